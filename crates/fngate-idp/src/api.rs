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
    pub tenants: Vec<TenantInfo>,
    pub api_apps: Vec<ApiAppInfo>,
    pub clients: Vec<ClientAppInfo>,
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
