//! The in-memory snapshot of all registrations the token endpoint reads (no database on the
//! request path). Rebuilt from the store after every change and swapped in atomically.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use fngate_store::Store;
use fngate_store::idp as db;
use time::OffsetDateTime;

use crate::keys::parse_time;

pub struct Tenant {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: String,
}

pub struct ApiApp {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub identifier_uri: String,
    pub scopes: Vec<String>,
    pub app_roles: Vec<String>,
    pub token_version: u8,
    pub created_at: String,
    pub assignment_required: bool,
    pub optional_claims: Vec<String>,
    pub group_claims: bool,
}

pub struct ClientSecret {
    pub id: String,
    pub description: String,
    pub hint: String,
    pub sha256: [u8; 32],
    pub created_at: String,
    pub expires_at: OffsetDateTime,
}

/// A certificate registered on a client app (Entra's key credential): the client signs its
/// assertions with the private key, fngate keeps the certificate only.
pub struct ClientCertificate {
    pub id: String,
    pub description: String,
    /// SHA-1 and SHA-256 of the DER certificate (`x5t`, `x5t#S256`).
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    /// The RSA public key (PKCS#1 `RSAPublicKey` DER), as aws-lc-rs verifies with it.
    pub public_key: Vec<u8>,
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub created_at: String,
}

/// Entra's platforms for redirect URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Server-side web app: a confidential client, redeems codes with its credential.
    Web,
    /// Single-page app: a public client in a browser; PKCE required, CORS on the token
    /// endpoint, refresh tokens single-use and living 24 h from sign-in.
    Spa,
    /// Mobile and desktop: a public client, PKCE; `http://localhost` matches any port.
    Public,
}

impl Platform {
    pub fn parse(text: &str) -> Option<Platform> {
        match text {
            "web" => Some(Platform::Web),
            "spa" => Some(Platform::Spa),
            "public" => Some(Platform::Public),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Spa => "spa",
            Platform::Public => "public",
        }
    }
}

/// A user who signs in.
pub struct User {
    pub object_id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: String,
    /// (object id, name) of the groups the user is in.
    pub groups: Vec<(String, String)>,
    /// API app client id -> assigned roles ('' = default access).
    pub assignments: HashMap<String, Vec<String>>,
}

pub struct ClientApp {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub object_id: String,
    pub created_at: String,
    pub secrets: Vec<ClientSecret>,
    pub certificates: Vec<ClientCertificate>,
    /// Registered redirect URIs and their platforms.
    pub redirect_uris: Vec<(String, Platform)>,
    /// allowPublicClient.
    pub public_client: bool,
    /// API app client id -> granted app roles (sorted).
    pub grants: HashMap<String, Vec<String>>,
}

impl ClientSecret {
    pub fn from_row(row: &db::ClientSecretRow) -> anyhow::Result<ClientSecret> {
        let sha256: [u8; 32] = row
            .sha256
            .as_slice()
            .try_into()
            .with_context(|| format!("stored hash of client secret {} is not 32 bytes", row.id))?;
        Ok(ClientSecret {
            id: row.id.clone(),
            description: row.description.clone(),
            hint: row.hint.clone(),
            sha256,
            created_at: row.created_at.clone(),
            expires_at: parse_time(&row.expires_at)?,
        })
    }
}

#[derive(Default)]
pub struct Registry {
    pub tenants: Vec<Arc<Tenant>>,
    pub apis: Vec<Arc<ApiApp>>,
    pub clients: Vec<Arc<ClientApp>>,
    pub users: Vec<Arc<User>>,
    pub groups: Vec<db::GroupRow>,
    /// (user, client) -> resource -> consented scopes.
    consents: HashMap<(String, String), HashMap<String, Vec<String>>>,
    /// Tenant id and name (lower case) -> tenant.
    tenant_index: HashMap<String, Arc<Tenant>>,
    /// (tenant id, identifier URI or client id) -> API app.
    api_index: HashMap<(String, String), Arc<ApiApp>>,
    client_index: HashMap<String, Arc<ClientApp>>,
}

impl Registry {
    pub async fn load(store: &Store) -> anyhow::Result<Registry> {
        let tenants: Vec<Arc<Tenant>> = db::list_tenants(store)
            .await?
            .into_iter()
            .map(|row| {
                Arc::new(Tenant {
                    id: row.id,
                    name: row.name,
                    is_default: row.is_default,
                    created_at: row.created_at,
                })
            })
            .collect();
        let mut apis = Vec::new();
        for row in db::list_api_apps(store).await? {
            let scopes: Vec<String> = serde_json::from_str(&row.scopes)
                .with_context(|| format!("stored scopes of API app {} are not a JSON list", row.client_id))?;
            let app_roles: Vec<String> = serde_json::from_str(&row.app_roles)
                .with_context(|| format!("stored app roles of API app {} are not a JSON list", row.client_id))?;
            let optional_claims: Vec<String> = serde_json::from_str(&row.optional_claims).with_context(|| {
                format!(
                    "stored optional claims of API app {} are not a JSON list",
                    row.client_id
                )
            })?;
            apis.push(Arc::new(ApiApp {
                client_id: row.client_id,
                tenant_id: row.tenant_id,
                name: row.name,
                identifier_uri: row.identifier_uri,
                scopes,
                app_roles,
                token_version: if row.token_version == 2 { 2 } else { 1 },
                created_at: row.created_at,
                assignment_required: row.assignment_required,
                optional_claims,
                group_claims: row.group_claims,
            }));
        }
        let mut secrets: HashMap<String, Vec<ClientSecret>> = HashMap::new();
        for row in db::list_secrets(store).await? {
            let secret = ClientSecret::from_row(&row)?;
            secrets.entry(row.client_id).or_default().push(secret);
        }
        let mut certificates: HashMap<String, Vec<ClientCertificate>> = HashMap::new();
        for row in db::list_certificates(store).await? {
            let certificate = ClientCertificate::from_row(&row)?;
            certificates.entry(row.client_id).or_default().push(certificate);
        }
        let mut redirect_uris: HashMap<String, Vec<(String, Platform)>> = HashMap::new();
        for row in db::list_redirect_uris(store).await? {
            let platform = Platform::parse(&row.platform)
                .with_context(|| format!("stored redirect URI {} has platform {:?}", row.uri, row.platform))?;
            redirect_uris
                .entry(row.client_id)
                .or_default()
                .push((row.uri, platform));
        }
        let mut grants: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
        for row in db::list_grants(store).await? {
            grants
                .entry(row.client_id)
                .or_default()
                .entry(row.api_client_id)
                .or_default()
                .push(row.role);
        }
        let clients = db::list_client_apps(store)
            .await?
            .into_iter()
            .map(|row| {
                let mut granted = grants.remove(&row.client_id).unwrap_or_default();
                granted.values_mut().for_each(|roles| roles.sort());
                Arc::new(ClientApp {
                    secrets: secrets.remove(&row.client_id).unwrap_or_default(),
                    certificates: certificates.remove(&row.client_id).unwrap_or_default(),
                    redirect_uris: redirect_uris.remove(&row.client_id).unwrap_or_default(),
                    public_client: row.public_client,
                    grants: granted,
                    client_id: row.client_id,
                    tenant_id: row.tenant_id,
                    name: row.name,
                    object_id: row.object_id,
                    created_at: row.created_at,
                })
            })
            .collect();
        let (users, groups) = load_users(store).await?;
        let mut consents: HashMap<(String, String), HashMap<String, Vec<String>>> = HashMap::new();
        for row in db::list_consents(store).await? {
            let scopes: Vec<String> = serde_json::from_str(&row.scopes)
                .with_context(|| format!("stored consent of user {} is not a JSON list", row.user_id))?;
            consents
                .entry((row.user_id, row.client_id))
                .or_default()
                .insert(row.resource, scopes);
        }
        let mut registry = Registry::index(tenants, apis, clients, users);
        registry.consents = consents;
        registry.groups = groups;
        Ok(registry)
    }

    fn index(
        tenants: Vec<Arc<Tenant>>,
        apis: Vec<Arc<ApiApp>>,
        clients: Vec<Arc<ClientApp>>,
        users: Vec<Arc<User>>,
    ) -> Registry {
        let mut tenant_index = HashMap::new();
        for tenant in &tenants {
            tenant_index.insert(tenant.id.to_ascii_lowercase(), tenant.clone());
            tenant_index.insert(tenant.name.to_ascii_lowercase(), tenant.clone());
        }
        let mut api_index = HashMap::new();
        for api in &apis {
            api_index.insert((api.tenant_id.clone(), api.identifier_uri.clone()), api.clone());
            api_index.insert((api.tenant_id.clone(), api.client_id.clone()), api.clone());
        }
        let client_index = clients.iter().map(|c| (c.client_id.clone(), c.clone())).collect();
        Registry {
            tenants,
            apis,
            clients,
            users,
            tenant_index,
            api_index,
            client_index,
            consents: HashMap::new(),
            groups: Vec::new(),
        }
    }

    /// A user of `tenant_id` by sign-in name or UPN (case-insensitive, as Entra's sign-in names).
    pub fn user_by_sign_in(&self, tenant_id: &str, name: &str) -> Option<&Arc<User>> {
        let name = name.trim();
        self.users.iter().find(|u| {
            u.tenant_id == tenant_id && (u.user_name.eq_ignore_ascii_case(name) || u.upn.eq_ignore_ascii_case(name))
        })
    }

    pub fn user(&self, object_id: &str) -> Option<&Arc<User>> {
        self.users.iter().find(|u| u.object_id == object_id)
    }

    /// A user by object id, sign-in name or UPN, in any tenant.
    pub fn find_user(&self, reference: &str) -> Option<&Arc<User>> {
        self.user(reference).or_else(|| {
            self.users
                .iter()
                .find(|u| u.user_name.eq_ignore_ascii_case(reference) || u.upn.eq_ignore_ascii_case(reference))
        })
    }

    /// Scopes `user_id` consented `client_id` to on `resource` (an API's client id or `openid`).
    pub fn consented(&self, user_id: &str, client_id: &str, resource: &str) -> &[String] {
        self.consents
            .get(&(user_id.to_string(), client_id.to_string()))
            .and_then(|by_resource| by_resource.get(resource))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// A tenant by GUID or name (case-insensitive, as Entra's tenant ids and domain names).
    pub fn tenant(&self, id_or_name: &str) -> Option<&Arc<Tenant>> {
        self.tenant_index.get(&id_or_name.to_ascii_lowercase())
    }

    pub fn default_tenant(&self) -> Option<&Arc<Tenant>> {
        self.tenants.iter().find(|t| t.is_default)
    }

    /// An API app of `tenant_id` by identifier URI or client id.
    pub fn api(&self, tenant_id: &str, identifier: &str) -> Option<&Arc<ApiApp>> {
        self.api_index.get(&(tenant_id.to_string(), identifier.to_string()))
    }

    /// An API app by name, identifier URI or client id, in any tenant.
    pub fn find_api(&self, reference: &str) -> Option<&Arc<ApiApp>> {
        self.apis
            .iter()
            .find(|a| a.client_id == reference || a.identifier_uri == reference || a.name == reference)
    }

    /// An API app by client id, in any tenant.
    pub fn client_api(&self, client_id: &str) -> Option<&Arc<ApiApp>> {
        self.apis.iter().find(|a| a.client_id == client_id)
    }

    pub fn client(&self, client_id: &str) -> Option<&Arc<ClientApp>> {
        self.client_index.get(client_id)
    }

    /// A client app by client id or name, in any tenant.
    pub fn find_client(&self, reference: &str) -> Option<&Arc<ClientApp>> {
        self.client(reference)
            .or_else(|| self.clients.iter().find(|c| c.name == reference))
    }
}

async fn load_users(store: &Store) -> anyhow::Result<(Vec<Arc<User>>, Vec<db::GroupRow>)> {
    let group_rows = db::list_groups(store).await?;
    let groups: HashMap<String, String> = group_rows
        .iter()
        .map(|g| (g.object_id.clone(), g.name.clone()))
        .collect();
    let mut member_of: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in db::list_group_members(store).await? {
        if let Some(name) = groups.get(&row.group_id) {
            member_of
                .entry(row.user_id)
                .or_default()
                .push((row.group_id, name.clone()));
        }
    }
    let mut assigned: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    for row in db::list_user_assignments(store).await? {
        assigned
            .entry(row.user_id)
            .or_default()
            .entry(row.api_client_id)
            .or_default()
            .push(row.role);
    }
    let users = db::list_users(store)
        .await?
        .into_iter()
        .map(|row| {
            let mut groups = member_of.remove(&row.object_id).unwrap_or_default();
            groups.sort_by(|a, b| a.1.cmp(&b.1));
            Arc::new(User {
                groups,
                assignments: assigned.remove(&row.object_id).unwrap_or_default(),
                object_id: row.object_id,
                tenant_id: row.tenant_id,
                user_name: row.user_name,
                upn: row.upn,
                display_name: row.display_name,
                given_name: row.given_name,
                surname: row.surname,
                email: row.email,
                password_hash: row.password_hash,
                created_at: row.created_at,
            })
        })
        .collect();
    Ok((users, group_rows))
}
