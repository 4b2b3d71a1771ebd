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
}

pub struct ClientSecret {
    pub id: String,
    pub description: String,
    pub hint: String,
    pub sha256: [u8; 32],
    pub created_at: String,
    pub expires_at: OffsetDateTime,
}

pub struct ClientApp {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub object_id: String,
    pub created_at: String,
    pub secrets: Vec<ClientSecret>,
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
            apis.push(Arc::new(ApiApp {
                client_id: row.client_id,
                tenant_id: row.tenant_id,
                name: row.name,
                identifier_uri: row.identifier_uri,
                scopes,
                app_roles,
                token_version: if row.token_version == 2 { 2 } else { 1 },
                created_at: row.created_at,
            }));
        }
        let mut secrets: HashMap<String, Vec<ClientSecret>> = HashMap::new();
        for row in db::list_secrets(store).await? {
            let secret = ClientSecret::from_row(&row)?;
            secrets.entry(row.client_id).or_default().push(secret);
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
                    grants: granted,
                    client_id: row.client_id,
                    tenant_id: row.tenant_id,
                    name: row.name,
                    object_id: row.object_id,
                    created_at: row.created_at,
                })
            })
            .collect();
        Ok(Registry::index(tenants, apis, clients))
    }

    fn index(tenants: Vec<Arc<Tenant>>, apis: Vec<Arc<ApiApp>>, clients: Vec<Arc<ClientApp>>) -> Registry {
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
            tenant_index,
            api_index,
            client_index,
        }
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
