//! JSON shapes of the IdP's admin API (`/idp/...` on the admin listener). The CLI uses the same
//! types, so both ends agree by construction.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: String,
    /// `iss` of v1.0 tokens: `https://sts.windows.net/{tid}/`.
    pub issuer_v1: String,
    /// `iss` of v2.0 tokens: `https://login.microsoftonline.com/{tid}/v2.0`.
    pub issuer_v2: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiAppInfo {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub identifier_uri: String,
    pub scopes: Vec<String>,
    pub app_roles: Vec<String>,
    /// `requestedAccessTokenVersion`: 1 (default, as Entra) or 2.
    pub token_version: u8,
    pub created_at: String,
    /// Only assigned users and clients get tokens for it (appRoleAssignmentRequired).
    #[serde(default)]
    pub assignment_required: bool,
    /// Optional access-token claims (optionalClaims.accessToken).
    #[serde(default)]
    pub optional_claims: Vec<String>,
    /// `groups` (object ids) in user tokens for it (groupMembershipClaims SecurityGroup).
    #[serde(default)]
    pub group_claims: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantInfo {
    pub api_client_id: String,
    pub api_name: String,
    pub identifier_uri: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretInfo {
    /// The secret id (not the value).
    pub id: String,
    pub client_id: String,
    pub description: String,
    /// First characters of the value, as Entra shows them.
    pub hint: String,
    pub created_at: String,
    pub expires_at: String,
    pub expired: bool,
}

/// A certificate registered on a client (a key credential); the private key stays with the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Key id.
    pub id: String,
    pub client_id: String,
    pub description: String,
    /// Upper-case hex SHA-1 of the certificate, as the Entra portal shows it (MSAL's `thumbprint`).
    pub thumbprint: String,
    /// Upper-case hex SHA-256 (`x5t#S256`).
    pub thumbprint_sha256: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub expired: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewCertificate {
    /// The PEM certificate (`-----BEGIN CERTIFICATE-----`); an RSA key of 2048 bits or more.
    pub pem: String,
    #[serde(default)]
    pub description: String,
}

/// A redirect URI and its platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    pub uri: String,
    /// `web` (default), `spa` or `public` (mobile and desktop), as Entra's platforms.
    #[serde(default = "default_platform")]
    pub platform: String,
}

fn default_platform() -> String {
    "web".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientSettings {
    /// Redirect URIs to add.
    #[serde(default)]
    pub add_redirect_uris: Vec<RedirectUri>,
    /// Redirect URIs to remove.
    #[serde(default)]
    pub remove_redirect_uris: Vec<String>,
    /// allowPublicClient (device code flow without a credential).
    #[serde(default)]
    pub public_client: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiSettings {
    #[serde(default)]
    pub assignment_required: Option<bool>,
    /// Replaces the optional access-token claims.
    #[serde(default)]
    pub optional_claims: Option<Vec<String>>,
    #[serde(default)]
    pub group_claims: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedSecret {
    #[serde(flatten)]
    pub info: SecretInfo,
    /// The value: shown this once, only its SHA-256 is kept.
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientAppInfo {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    /// Service principal object id: the `oid` and `sub` of its tokens.
    pub object_id: String,
    pub created_at: String,
    pub grants: Vec<GrantInfo>,
    pub secrets: Vec<SecretInfo>,
    #[serde(default)]
    pub certificates: Vec<CertificateInfo>,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// allowPublicClient.
    #[serde(default)]
    pub public_client: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedClient {
    pub client: ClientAppInfo,
    pub secret: CreatedSecret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: String,
    /// True for the key new tokens are signed with.
    pub signing: bool,
    /// When a retired key leaves the JWKS.
    pub remove_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaInfo {
    /// PEM file of the local CA; point clients at it (`REQUESTS_CA_BUNDLE`, `curl --cacert`).
    pub path: String,
    pub pem: String,
}

/// Everything registered, for `fngate idp list` and `fngate status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub default_tenant_id: String,
    /// Where this server's IdP listener answers (`http://ADDR`; the same port speaks https), so
    /// the CLI needs only `--server`. `None` while the IdP is not serving.
    #[serde(default)]
    pub idp_url: Option<String>,
    pub tenants: Vec<TenantInfo>,
    pub api_apps: Vec<ApiAppInfo>,
    pub clients: Vec<ClientAppInfo>,
    #[serde(default)]
    pub users: Vec<UserInfo>,
    pub keys: Vec<KeyInfo>,
    pub ca_cert_path: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewTenant {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewApiApp {
    pub name: String,
    /// Tenant id or name; the default tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `api://…`; `api://{client id}` when absent (Entra's default).
    #[serde(default)]
    pub identifier_uri: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// 1 (default) or 2.
    #[serde(default)]
    pub token_version: Option<u8>,
    #[serde(default)]
    pub assignment_required: bool,
    #[serde(default)]
    pub optional_claims: Vec<String>,
    #[serde(default)]
    pub group_claims: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewClientApp {
    pub name: String,
    #[serde(default)]
    pub tenant: Option<String>,
    /// `API/ROLE`, API being the API app's name, identifier URI or client id.
    #[serde(default)]
    pub grants: Vec<String>,
    #[serde(default)]
    pub secret: NewSecret,
    /// Certificates to register besides the secret.
    #[serde(default)]
    pub certificates: Vec<NewCertificate>,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// allowPublicClient.
    #[serde(default)]
    pub public_client: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewSecret {
    #[serde(default)]
    pub description: String,
    /// Lifetime in days (default 180, as Entra recommends).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewGrants {
    /// `API/ROLE` entries.
    pub grants: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotateKeys {
    /// How long the previous key stays published (default: the server's, 24 h).
    #[serde(default)]
    pub overlap_seconds: Option<u64>,
}

/// A user who signs in (Entra's member user).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserInfo {
    /// Object id: `oid` of the user's tokens.
    pub object_id: String,
    pub tenant_id: String,
    /// Sign-in name (the UPN also signs in).
    pub user_name: String,
    /// userPrincipalName: `preferred_username` (v2), `upn` / `unique_name` (v1).
    pub upn: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub email: String,
    /// Group names and object ids.
    pub groups: Vec<GroupInfo>,
    /// Assignments to API apps: `API/ROLE`, or `API` for default access.
    pub assignments: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupInfo {
    pub object_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewUser {
    /// Sign-in name, e.g. `alice`.
    pub user_name: String,
    /// At least 8 characters; a random one is generated (and returned once) when absent.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    /// Default: `NAME@<tenant name>.onmicrosoft.com`, as Entra's initial domain.
    #[serde(default)]
    pub upn: Option<String>,
    /// Default: the user name.
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub surname: String,
    /// Default: the UPN.
    #[serde(default)]
    pub email: Option<String>,
    /// Group names, created in the tenant when missing.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `API/ROLE` app-role assignments, or `API` for default access.
    #[serde(default)]
    pub assignments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedUser {
    pub user: UserInfo,
    /// The generated password, when none was given (shown once; only an argon2 hash is kept).
    pub password: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserChanges {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub add_groups: Vec<String>,
    #[serde(default)]
    pub add_assignments: Vec<String>,
}
