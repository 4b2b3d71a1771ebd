//! A dev identity provider that behaves like Microsoft Entra ID (client credentials, JWKS,
//! discovery, Entra-shaped errors).
//!
//! CONTRACT with the binary; extend, do not break:
//! - `Idp::open(store)` (creates the default tenant and keys on first start; loads every
//!   registration into memory, so the token endpoint never reads the database),
//!   `Idp::open_with(store, IdpOptions)` for non-default token lifetime / key overlap.
//! - `serve(listener, shutdown)`: plain HTTP and HTTPS on one port (first byte 0x16 = TLS), the
//!   certificate issued by the local CA persisted in `<data-dir>/idp/ca.pem`.
//! - `admin_router()`: merged into the admin listener; routes under `/idp/…` (see `admin.rs`).
//!
//! For `fngate up --demo` and `fngate status` (all idempotent where it says "ensure"):
//! - `default_tenant_id()`, `issuer_v1(tid)` / `issuer_v2(tid)` (the `iss` of v1 / v2 tokens,
//!   Entra's exact strings), `keys_url(idp_base, tid)` / `token_url(idp_base, tid)` (e.g. base
//!   `http://127.0.0.1:8082`), `ca_cert_path()`.
//! - `ensure_api_app(NewApiApp)`: returns the app of that name in that tenant, creating it if
//!   missing (an existing app is returned unchanged).
//! - `ensure_client_app(NewClientApp)`: returns the client of that name, creating it (with its
//!   grants and a secret) if missing; the secret value is `Some` only when it was created now.
//!   Existing clients get any missing grants added. For a fresh secret use `add_secret`.
//! - `create_api_app`, `create_client_app`, `add_secret`, `remove_secret`, `grant_roles`,
//!   `delete_api_app`, `delete_client_app`, `create_tenant`, `rotate_keys`, `overview()`.

mod admin;
pub mod api;
mod assertion;
mod authorize;
mod ca;
mod certificate;
mod code;
mod device;
mod discovery;
mod error;
mod keys;
mod password;
mod refresh;
mod registry;
mod scopes;
mod secret;
mod server;
mod session;
mod signin;
mod signin_page;
mod token;
mod user_token;
mod userinfo;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use fngate_store::idp as db;
use fngate_store::{Store, StoreError};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::*;
use crate::keys::{SigningKey, format_time};
use crate::registry::{ApiApp, ClientApp, Registry};

pub use crate::ca::CA_CERT_FILE;

/// Name of the tenant created on first start.
pub const DEFAULT_TENANT_NAME: &str = "default";
/// Subdirectory of the data directory holding the local CA.
pub const IDP_DIR: &str = "idp";

/// `iss` of v1.0 access tokens (Entra's exact form, trailing slash included).
pub fn issuer_v1(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}

/// `iss` of v2.0 access tokens (Entra's exact form).
pub fn issuer_v2(tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant_id}/v2.0")
}

/// The v2 JWKS URL under an IdP base URL such as `http://127.0.0.1:8082`.
pub fn keys_url(idp_base: &str, tenant_id: &str) -> String {
    format!("{}/{tenant_id}/discovery/v2.0/keys", idp_base.trim_end_matches('/'))
}

/// The v2 token endpoint under an IdP base URL.
pub fn token_url(idp_base: &str, tenant_id: &str) -> String {
    format!("{}/{tenant_id}/oauth2/v2.0/token", idp_base.trim_end_matches('/'))
}

#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// `expires_in` of issued tokens (Entra's client-credentials tokens say 3599).
    pub token_lifetime: Duration,
    /// How long a rotated-out key stays in the JWKS unless the rotation says otherwise.
    pub key_overlap: Duration,
    /// `interval` of device-code responses: how often the device polls (Entra says 5 s).
    pub device_poll_interval: Duration,
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            token_lifetime: Duration::from_secs(3599),
            key_overlap: Duration::from_secs(24 * 3600),
            device_poll_interval: Duration::from_secs(5),
        }
    }
}

/// Errors of the management API; the admin router maps them to 400 / 404 / 409 / 500.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for IdpError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { entity } => IdpError::Conflict(format!("{entity} already exists")),
            StoreError::NotFound { entity } => IdpError::NotFound(format!("{entity} not found")),
            other => IdpError::Internal(other.into()),
        }
    }
}

/// The signing key first, then keys still published after a rotation.
pub(crate) struct KeySet {
    pub signing: Arc<SigningKey>,
    pub all: Vec<Arc<SigningKey>>,
}

pub struct Idp {
    store: Store,
    options: IdpOptions,
    registry: ArcSwap<Registry>,
    keys: ArcSwap<KeySet>,
    ca: ca::LocalCa,
    /// Serialises changes so each reload sees every committed change.
    changes: tokio::sync::Mutex<()>,
    /// The listener address `serve` was given, reported by the admin API (`Overview::idp_url`).
    listening: arc_swap::ArcSwapOption<std::net::SocketAddr>,
    /// Client-assertion `jti`s already used.
    pub(crate) replay: assertion::ReplayCache,
    /// Sign-ins in progress, authorization codes, device codes: in memory (see each module).
    pub(crate) signins: session::SignIns,
    pub(crate) codes: code::Codes,
    pub(crate) devices: device::Devices,
    /// A password hash of a random value, checked when a sign-in names no known user.
    pub(crate) dummy_hash: String,
    /// Password checks (argon2, 19 MiB and tens of ms of CPU each) running at once: at most one
    /// per core, so a flood of sign-in posts queues instead of starving the other listeners.
    pub(crate) password_checks: tokio::sync::Semaphore,
}

impl Idp {
    pub async fn open(store: Store) -> anyhow::Result<Arc<Idp>> {
        Self::open_with(store, IdpOptions::default()).await
    }

    pub async fn open_with(store: Store, options: IdpOptions) -> anyhow::Result<Arc<Idp>> {
        let ca = ca::LocalCa::load_or_create(&store.data_dir().join(IDP_DIR))?;
        let mut registry = Registry::load(&store).await?;
        if registry.default_tenant().is_none() {
            db::insert_tenant(
                &store,
                &db::TenantRow {
                    id: new_guid(),
                    name: DEFAULT_TENANT_NAME.into(),
                    is_default: true,
                    created_at: fngate_store::now_rfc3339(),
                },
            )
            .await
            .context("cannot create the default tenant")?;
            registry = Registry::load(&store).await?;
        }
        let keys = load_keys(&store).await?;
        // Expired refresh tokens are useless; dropping them at start bounds the table.
        db::delete_expired_refresh_tokens(&store, &format_time(OffsetDateTime::now_utc()))
            .await
            .context("cannot drop expired refresh tokens")?;
        let dummy_hash = password::hash(password::generate())
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(Arc::new(Idp {
            store,
            options,
            registry: ArcSwap::from_pointee(registry),
            keys: ArcSwap::from_pointee(keys),
            ca,
            changes: tokio::sync::Mutex::new(()),
            listening: arc_swap::ArcSwapOption::empty(),
            replay: Default::default(),
            signins: Default::default(),
            codes: Default::default(),
            devices: Default::default(),
            dummy_hash,
            password_checks: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }))
    }

    /// Serves the Entra-shaped endpoints (HTTP and HTTPS on one port) until `shutdown`, with
    /// `limits` on the listener's connections.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        limits: fngate_http::ConnectionLimits,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            self.listening.store(Some(Arc::new(addr)));
        }
        server::serve(self, listener, limits, shutdown).await
    }

    /// `http://ADDR` of the serving listener (an unspecified address becomes loopback, where
    /// the CLI on this machine reaches it); `None` before `serve`.
    pub fn public_url(&self) -> Option<String> {
        let mut addr = **self.listening.load().as_ref()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Some(format!("http://{addr}"))
    }

    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        admin::router(self.clone())
    }

    pub fn options(&self) -> &IdpOptions {
        &self.options
    }

    pub fn default_tenant_id(&self) -> String {
        self.registry
            .load()
            .default_tenant()
            .map(|t| t.id.clone())
            .unwrap_or_default()
    }

    /// PEM file of the local CA that issues the HTTPS certificate.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.ca.cert_path.clone()
    }

    pub fn ca_info(&self) -> CaInfo {
        CaInfo {
            path: self.ca.cert_path.display().to_string(),
            pem: self.ca.cert_pem.clone(),
        }
    }

    pub(crate) fn registry(&self) -> arc_swap::Guard<Arc<Registry>> {
        self.registry.load()
    }

    /// The registry as an owned snapshot (kept across awaits).
    pub(crate) fn registry_full(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn key_set(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.keys.load()
    }

    pub(crate) fn tls_config(&self, ip: Option<std::net::IpAddr>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        self.ca.server_config(ip)
    }

    async fn reload(&self) -> Result<(), IdpError> {
        let registry = Registry::load(&self.store).await?;
        self.registry.store(Arc::new(registry));
        Ok(())
    }

    // ---- reading -------------------------------------------------------------------------

    pub fn overview(&self) -> Overview {
        let registry = self.registry.load();
        Overview {
            default_tenant_id: registry.default_tenant().map(|t| t.id.clone()).unwrap_or_default(),
            idp_url: self.public_url(),
            tenants: registry.tenants.iter().map(|t| tenant_info(t)).collect(),
            api_apps: registry.apis.iter().map(|a| api_info(a)).collect(),
            clients: registry.clients.iter().map(|c| client_info(&registry, c)).collect(),
            users: registry.users.iter().map(|u| user_info(&registry, u)).collect(),
            keys: self.list_keys(),
            ca_cert_path: self.ca.cert_path.display().to_string(),
        }
    }

    pub fn tenant(&self, id_or_name: &str) -> Result<TenantInfo, IdpError> {
        let registry = self.registry.load();
        registry
            .tenant(id_or_name)
            .map(|t| tenant_info(t))
            .ok_or_else(|| IdpError::NotFound(format!("tenant {id_or_name:?} not found")))
    }

    pub fn client(&self, reference: &str) -> Result<ClientAppInfo, IdpError> {
        let registry = self.registry.load();
        let client = find_client(&registry, reference)?;
        Ok(client_info(&registry, client))
    }

    pub fn list_keys(&self) -> Vec<KeyInfo> {
        let keys = self.keys.load();
        let now = OffsetDateTime::now_utc();
        keys.all
            .iter()
            .filter(|k| k.is_published_at(now))
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                created_at: format_time(k.created_at),
                signing: Arc::ptr_eq(k, &keys.signing),
                remove_at: k.remove_at.map(format_time),
            })
            .collect()
    }

    // ---- changing ------------------------------------------------------------------------

    pub async fn create_tenant(&self, new: NewTenant) -> Result<TenantInfo, IdpError> {
        let name = valid_name("tenant name", &new.name)?;
        let _guard = self.changes.lock().await;
        let id = new_guid();
        db::insert_tenant(
            &self.store,
            &db::TenantRow {
                id: id.clone(),
                name,
                is_default: false,
                created_at: fngate_store::now_rfc3339(),
            },
        )
        .await?;
        self.reload().await?;
        self.tenant(&id)
    }

    pub async fn create_api_app(&self, new: NewApiApp) -> Result<ApiAppInfo, IdpError> {
        let _guard = self.changes.lock().await;
        self.create_api_app_locked(new).await
    }

    pub async fn ensure_api_app(&self, new: NewApiApp) -> Result<ApiAppInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let tenant_id = resolve_tenant(&registry, new.tenant.as_deref())?;
        if let Some(existing) = registry
            .apis
            .iter()
            .find(|a| a.tenant_id == tenant_id && a.name == new.name)
        {
            return Ok(api_info(existing));
        }
        self.create_api_app_locked(new).await
    }

    async fn create_api_app_locked(&self, new: NewApiApp) -> Result<ApiAppInfo, IdpError> {
        let registry = self.registry.load();
        let tenant_id = resolve_tenant(&registry, new.tenant.as_deref())?;
        let name = valid_name("name", &new.name)?;
        let client_id = new_guid();
        let identifier_uri = match new.identifier_uri.as_deref().map(str::trim) {
            None | Some("") => format!("api://{client_id}"),
            Some(uri) => valid_identifier_uri(uri)?,
        };
        let scopes = valid_values("scope", &new.scopes)?;
        let app_roles = valid_values("app role", &new.app_roles)?;
        let optional_claims = valid_optional_claims(&new.optional_claims)?;
        let token_version = match new.token_version {
            None | Some(1) => 1,
            Some(2) => 2,
            Some(other) => {
                return Err(IdpError::Invalid(format!(
                    "token_version: {other} is not a token version (1 or 2; Entra's requestedAccessTokenVersion)"
                )));
            }
        };
        db::insert_api_app(
            &self.store,
            &db::ApiAppRow {
                client_id: client_id.clone(),
                tenant_id,
                name,
                identifier_uri,
                scopes: serde_json::to_string(&scopes).context("scopes")?,
                app_roles: serde_json::to_string(&app_roles).context("app roles")?,
                token_version,
                created_at: fngate_store::now_rfc3339(),
                assignment_required: new.assignment_required,
                optional_claims: serde_json::to_string(&optional_claims).context("optional claims")?,
                group_claims: new.group_claims,
            },
        )
        .await?;
        self.reload().await?;
        let registry = self.registry.load();
        let app = registry
            .client_api(&client_id)
            .ok_or_else(|| IdpError::Internal(anyhow::anyhow!("API app {client_id} vanished after insert")))?;
        Ok(api_info(app))
    }

    pub async fn delete_api_app(&self, reference: &str) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_api(&self.registry.load(), reference)?.client_id.clone();
        db::delete_api_app(&self.store, &client_id).await?;
        self.reload().await
    }

    pub async fn create_client_app(&self, new: NewClientApp) -> Result<CreatedClient, IdpError> {
        let _guard = self.changes.lock().await;
        self.create_client_app_locked(new).await
    }

    /// See the crate doc: creates the client when missing; otherwise adds missing grants and
    /// returns no secret.
    pub async fn ensure_client_app(
        &self,
        new: NewClientApp,
    ) -> Result<(ClientAppInfo, Option<CreatedSecret>), IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let tenant_id = resolve_tenant(&registry, new.tenant.as_deref())?;
        if let Some(existing) = registry
            .clients
            .iter()
            .find(|c| c.tenant_id == tenant_id && c.name == new.name)
        {
            let grants = parse_grants(&registry, existing, &new.grants)?;
            db::insert_grants(&self.store, &grants).await?;
            self.reload().await?;
            let registry = self.registry.load();
            let client = find_client(&registry, &existing.client_id)?;
            return Ok((client_info(&registry, client), None));
        }
        let created = self.create_client_app_locked(new).await?;
        Ok((created.client, Some(created.secret)))
    }

    async fn create_client_app_locked(&self, new: NewClientApp) -> Result<CreatedClient, IdpError> {
        let registry = self.registry.load();
        let tenant_id = resolve_tenant(&registry, new.tenant.as_deref())?;
        let name = valid_name("name", &new.name)?;
        let row = db::ClientAppRow {
            client_id: new_guid(),
            tenant_id,
            name,
            object_id: new_guid(),
            created_at: fngate_store::now_rfc3339(),
            public_client: new.public_client,
        };
        let probe = ClientApp {
            client_id: row.client_id.clone(),
            tenant_id: row.tenant_id.clone(),
            name: row.name.clone(),
            object_id: row.object_id.clone(),
            created_at: row.created_at.clone(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            redirect_uris: Vec::new(),
            public_client: row.public_client,
            grants: Default::default(),
        };
        let grants = parse_grants(&registry, &probe, &new.grants)?;
        let (secret_row, value) = new_secret_row(&row.client_id, &new.secret, None)?;
        let certificates = new
            .certificates
            .iter()
            .enumerate()
            .map(|(index, c)| {
                new_certificate_row(&row.client_id, c)
                    .map_err(|err| IdpError::Invalid(format!("certificates[{index}]: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let redirect_uris = redirect_uri_rows(&row.client_id, &new.redirect_uris)?;
        db::insert_client_app(
            &self.store,
            &row,
            db::ClientCredentials {
                secrets: std::slice::from_ref(&secret_row),
                certificates: &certificates,
                grants: &grants,
                redirect_uris: &redirect_uris,
            },
        )
        .await?;
        self.reload().await?;
        let registry = self.registry.load();
        let client = find_client(&registry, &row.client_id)?;
        Ok(CreatedClient {
            client: client_info(&registry, client),
            secret: CreatedSecret {
                info: secret_info(&row.client_id, &registry::ClientSecret::from_row(&secret_row)?),
                value,
            },
        })
    }

    pub async fn delete_client_app(&self, reference: &str) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_client(&self.registry.load(), reference)?.client_id.clone();
        db::delete_client_app(&self.store, &client_id).await?;
        self.reload().await
    }

    /// Adds a secret; `expires_at` overrides `new.expires_in_days` (tests use a past time).
    pub async fn add_secret(
        &self,
        client: &str,
        new: NewSecret,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<CreatedSecret, IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_client(&self.registry.load(), client)?.client_id.clone();
        let (row, value) = new_secret_row(&client_id, &new, expires_at)?;
        db::insert_secret(&self.store, &row).await?;
        self.reload().await?;
        Ok(CreatedSecret {
            info: secret_info(&client_id, &registry::ClientSecret::from_row(&row)?),
            value,
        })
    }

    pub async fn remove_secret(&self, client: &str, secret_id: &str) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_client(&self.registry.load(), client)?.client_id.clone();
        if !db::delete_secret(&self.store, &client_id, secret_id).await? {
            return Err(IdpError::NotFound(format!(
                "client {client_id} has no secret with id {secret_id:?} (see `fngate idp secret list {client}`)"
            )));
        }
        self.reload().await
    }

    /// Grants app roles on API apps (`API/ROLE`): Entra's admin consent.
    pub async fn grant_roles(&self, client: &str, grants: &[String]) -> Result<ClientAppInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let found = find_client(&registry, client)?;
        let rows = parse_grants(&registry, found, grants)?;
        db::insert_grants(&self.store, &rows).await?;
        self.reload().await?;
        self.client(&found.client_id)
    }

    /// Registers a certificate (PEM) as a credential of `client`.
    pub async fn add_certificate(&self, client: &str, new: NewCertificate) -> Result<CertificateInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_client(&self.registry.load(), client)?.client_id.clone();
        let row = new_certificate_row(&client_id, &new)?;
        db::insert_certificate(&self.store, &row).await?;
        self.reload().await?;
        Ok(certificate_info(
            &client_id,
            &registry::ClientCertificate::from_row(&row)?,
        ))
    }

    pub async fn remove_certificate(&self, client: &str, id_or_thumbprint: &str) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let found = find_client(&registry, client)?;
        let wanted = id_or_thumbprint.trim();
        let id = found
            .certificates
            .iter()
            .find(|c| {
                c.id == wanted
                    || hex::encode_upper(&c.sha1).eq_ignore_ascii_case(wanted)
                    || hex::encode_upper(&c.sha256).eq_ignore_ascii_case(wanted)
            })
            .map(|c| c.id.clone())
            .ok_or_else(|| {
                IdpError::NotFound(format!(
                    "client {} has no certificate with id or thumbprint {wanted:?} (see `fngate idp client show {client}`)",
                    found.client_id
                ))
            })?;
        db::delete_certificate(&self.store, &found.client_id, &id).await?;
        self.reload().await
    }

    /// Adds or removes redirect URIs and sets allowPublicClient.
    pub async fn update_client(&self, client: &str, changes: ClientSettings) -> Result<ClientAppInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let client_id = find_client(&self.registry.load(), client)?.client_id.clone();
        let rows = redirect_uri_rows(&client_id, &changes.add_redirect_uris)?;
        db::insert_redirect_uris(&self.store, &rows).await?;
        for uri in &changes.remove_redirect_uris {
            if !db::delete_redirect_uri(&self.store, &client_id, uri).await? {
                return Err(IdpError::NotFound(format!(
                    "remove_redirect_uris: {uri:?} is not registered on client {client_id}"
                )));
            }
        }
        if let Some(public_client) = changes.public_client {
            db::set_public_client(&self.store, &client_id, public_client).await?;
        }
        self.reload().await?;
        self.client(&client_id)
    }

    /// Changes an API app's assignment requirement, optional claims and group claims.
    pub async fn update_api_app(&self, app: &str, changes: ApiSettings) -> Result<ApiAppInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let api = find_api(&registry, app)?;
        let optional_claims = match &changes.optional_claims {
            Some(claims) => valid_optional_claims(claims)?,
            None => api.optional_claims.clone(),
        };
        let row = db::ApiAppRow {
            client_id: api.client_id.clone(),
            tenant_id: api.tenant_id.clone(),
            name: api.name.clone(),
            identifier_uri: api.identifier_uri.clone(),
            scopes: String::new(),
            app_roles: String::new(),
            token_version: api.token_version.into(),
            created_at: api.created_at.clone(),
            assignment_required: changes.assignment_required.unwrap_or(api.assignment_required),
            optional_claims: serde_json::to_string(&optional_claims).context("optional claims")?,
            group_claims: changes.group_claims.unwrap_or(api.group_claims),
        };
        db::update_api_settings(&self.store, &row).await?;
        self.reload().await?;
        let registry = self.registry.load();
        Ok(api_info(find_api(&registry, &row.client_id)?))
    }

    // ---- users ----------------------------------------------------------------------------

    pub fn user(&self, reference: &str) -> Result<UserInfo, IdpError> {
        let registry = self.registry.load();
        let user = find_user(&registry, reference)?;
        Ok(user_info(&registry, user))
    }

    /// Creates a user; `password` absent: a generated one, returned this once.
    pub async fn create_user(&self, new: NewUser) -> Result<CreatedUser, IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let tenant_id = resolve_tenant(&registry, new.tenant.as_deref())?;
        let tenant = registry
            .tenant(&tenant_id)
            .ok_or_else(|| IdpError::Internal(anyhow::anyhow!("tenant {tenant_id} vanished")))?;
        let user_name = valid_user_name(&new.user_name)?;
        let upn = match new.upn.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(upn) => valid_upn(upn)?,
            None => format!("{user_name}@{}.onmicrosoft.com", tenant.name.to_ascii_lowercase()),
        };
        let (password, generated) = match new.password {
            Some(password) => (password, None),
            None => {
                let generated = password::generate();
                (generated.clone(), Some(generated))
            }
        };
        password::check_policy(&password)?;
        let object_id = new_guid();
        let (groups, memberships, assignments) =
            self.memberships(&registry, &tenant_id, &object_id, &new.groups, &new.assignments)?;
        let display_name = new
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(&user_name)
            .to_string();
        let row = db::UserRow {
            object_id: object_id.clone(),
            tenant_id,
            email: new.email.clone().unwrap_or_else(|| upn.clone()),
            user_name,
            upn,
            display_name,
            given_name: new.given_name.trim().to_string(),
            surname: new.surname.trim().to_string(),
            password_hash: password::hash(password).await?,
            created_at: fngate_store::now_rfc3339(),
        };
        db::insert_user(&self.store, &row, &groups, &memberships, &assignments).await?;
        self.reload().await?;
        let registry = self.registry.load();
        let user = find_user(&registry, &object_id)?;
        Ok(CreatedUser {
            user: user_info(&registry, user),
            password: generated,
        })
    }

    pub async fn update_user(&self, reference: &str, changes: UserChanges) -> Result<UserInfo, IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load();
        let user = find_user(&registry, reference)?.clone();
        if let Some(password) = changes.password {
            password::check_policy(&password)?;
            db::set_user_password(&self.store, &user.object_id, &password::hash(password).await?).await?;
        }
        let (groups, memberships, assignments) = self.memberships(
            &registry,
            &user.tenant_id,
            &user.object_id,
            &changes.add_groups,
            &changes.add_assignments,
        )?;
        db::insert_memberships(&self.store, &groups, &memberships, &assignments).await?;
        self.reload().await?;
        self.user(&user.object_id)
    }

    pub async fn delete_user(&self, reference: &str) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let object_id = find_user(&self.registry.load(), reference)?.object_id.clone();
        db::delete_user(&self.store, &object_id).await?;
        self.reload().await
    }

    /// The groups to create, memberships and assignments for a user of `tenant_id`.
    fn memberships(
        &self,
        registry: &Registry,
        tenant_id: &str,
        user_id: &str,
        groups: &[String],
        assignments: &[String],
    ) -> Result<Memberships, IdpError> {
        let mut new_groups: Vec<db::GroupRow> = Vec::new();
        let mut members = Vec::new();
        for (index, name) in groups.iter().enumerate() {
            let name = valid_name(&format!("groups[{index}]"), name)?;
            let existing = registry
                .groups
                .iter()
                .chain(new_groups.iter())
                .find(|g| g.tenant_id == tenant_id && g.name == name)
                .map(|g| g.object_id.clone());
            let group_id = match existing {
                Some(id) => id,
                None => {
                    let row = db::GroupRow {
                        object_id: new_guid(),
                        tenant_id: tenant_id.to_string(),
                        name,
                        created_at: fngate_store::now_rfc3339(),
                    };
                    let id = row.object_id.clone();
                    new_groups.push(row);
                    id
                }
            };
            members.push(db::GroupMemberRow {
                group_id,
                user_id: user_id.to_string(),
            });
        }
        let mut rows = Vec::new();
        let api_named = |reference: &str| {
            registry
                .apis
                .iter()
                .filter(|a| a.tenant_id == tenant_id)
                .find(|a| a.name == reference || a.identifier_uri == reference || a.client_id == reference)
        };
        for (index, assignment) in assignments.iter().enumerate() {
            // `API/ROLE` when API names an app defining ROLE; else the whole text names the API
            // (identifier URIs hold '/' too) for default access.
            let with_role = assignment.rsplit_once('/').and_then(|(api, role)| {
                api_named(api)
                    .filter(|a| a.app_roles.iter().any(|r| r == role))
                    .map(|a| (a, role))
            });
            let (api, role) = match with_role.or_else(|| api_named(assignment).map(|a| (a, ""))) {
                Some(found) => found,
                None => {
                    return Err(IdpError::NotFound(format!(
                        "assignments[{index}]: {assignment:?} names no API app (with that app role) in the user's \
                         tenant: use API/ROLE, or API for default access"
                    )));
                }
            };
            rows.push(db::UserAssignmentRow {
                user_id: user_id.to_string(),
                api_client_id: api.client_id.clone(),
                role: role.to_string(),
                created_at: fngate_store::now_rfc3339(),
            });
        }
        Ok((new_groups, members, rows))
    }

    /// Records that `user_id` consented `client_id` to `scopes` per resource (sign-in flows).
    pub(crate) async fn record_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[(String, Vec<String>)],
    ) -> Result<(), IdpError> {
        let _guard = self.changes.lock().await;
        let registry = self.registry.load_full();
        let rows = scopes
            .iter()
            .map(|(resource, wanted)| {
                let mut all: Vec<String> = registry.consented(user_id, client_id, resource).to_vec();
                for scope in wanted {
                    if !all.contains(scope) {
                        all.push(scope.clone());
                    }
                }
                Ok(db::ConsentRow {
                    user_id: user_id.to_string(),
                    client_id: client_id.to_string(),
                    resource: resource.clone(),
                    scopes: serde_json::to_string(&all).context("consent scopes")?,
                    updated_at: fngate_store::now_rfc3339(),
                })
            })
            .collect::<Result<Vec<_>, IdpError>>()?;
        db::upsert_consents(&self.store, &rows).await?;
        self.reload().await
    }

    /// Starts signing with a new key; the previous ones stay published for `overlap` (default
    /// `IdpOptions::key_overlap`), then disappear from the JWKS and the store.
    pub async fn rotate_keys(&self, overlap: Option<Duration>) -> Result<Vec<KeyInfo>, IdpError> {
        let _guard = self.changes.lock().await;
        let overlap = overlap.unwrap_or(self.options.key_overlap);
        let row = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .context("key generation task")??;
        let now = OffsetDateTime::now_utc();
        let remove_at = now + time::Duration::try_from(overlap).context("overlap too long")?;
        db::rotate_signing_key(&self.store, &row, &format_time(now), &format_time(remove_at)).await?;
        self.keys.store(Arc::new(load_keys(&self.store).await?));
        Ok(self.list_keys())
    }
}

/// Loads the keys, generating the first one and dropping those past their overlap.
async fn load_keys(store: &Store) -> anyhow::Result<KeySet> {
    let now = OffsetDateTime::now_utc();
    let mut rows = db::list_signing_keys(store).await?;
    let expired: Vec<String> = rows
        .iter()
        .filter(|r| r.retired_at.is_some())
        .filter(|r| {
            r.remove_at
                .as_deref()
                .and_then(|t| keys::parse_time(t).ok())
                .is_none_or(|t| t <= now)
        })
        .map(|r| r.kid.clone())
        .collect();
    if !expired.is_empty() {
        db::delete_signing_keys(store, &expired).await?;
        rows.retain(|r| !expired.contains(&r.kid));
    }
    if !rows.iter().any(|r| r.retired_at.is_none()) {
        let row = tokio::task::spawn_blocking(SigningKey::generate).await??;
        db::rotate_signing_key(store, &row, &format_time(now), &format_time(now)).await?;
        rows = db::list_signing_keys(store).await?;
    }
    let mut all = Vec::with_capacity(rows.len());
    let mut signing = None;
    // Newest first, so the signing key leads the JWKS.
    for row in rows.iter().rev() {
        let key = Arc::new(SigningKey::from_row(row)?);
        if row.retired_at.is_none() && signing.is_none() {
            signing = Some(key.clone());
        }
        all.push(key);
    }
    let signing = signing.context("no signing key in the store")?;
    Ok(KeySet { signing, all })
}

/// Groups to create, memberships and assignments, to store with a user.
type Memberships = (Vec<db::GroupRow>, Vec<db::GroupMemberRow>, Vec<db::UserAssignmentRow>);

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn resolve_tenant(registry: &Registry, tenant: Option<&str>) -> Result<String, IdpError> {
    match tenant.map(str::trim).filter(|t| !t.is_empty()) {
        None => registry
            .default_tenant()
            .map(|t| t.id.clone())
            .ok_or_else(|| IdpError::Internal(anyhow::anyhow!("no default tenant"))),
        Some(t) => registry
            .tenant(t)
            .map(|t| t.id.clone())
            .ok_or_else(|| IdpError::NotFound(format!("tenant {t:?} not found (see `fngate idp list`)"))),
    }
}

fn find_api<'a>(registry: &'a Registry, reference: &str) -> Result<&'a Arc<ApiApp>, IdpError> {
    registry.find_api(reference).ok_or_else(|| {
        IdpError::NotFound(format!(
            "no API app named {reference:?} (by name, identifier URI or client id; see `fngate idp list`)"
        ))
    })
}

fn find_client<'a>(registry: &'a Registry, reference: &str) -> Result<&'a Arc<ClientApp>, IdpError> {
    registry.find_client(reference).ok_or_else(|| {
        IdpError::NotFound(format!(
            "no client app {reference:?} (by client id or name; see `fngate idp list`)"
        ))
    })
}

/// Parses `API/ROLE` grants for `client`: the API must be in the client's tenant and define the role.
fn parse_grants(registry: &Registry, client: &ClientApp, grants: &[String]) -> Result<Vec<db::RoleGrantRow>, IdpError> {
    let mut rows = Vec::new();
    for (index, grant) in grants.iter().enumerate() {
        let Some((api_ref, role)) = grant.rsplit_once('/').filter(|(a, r)| !a.is_empty() && !r.is_empty()) else {
            return Err(IdpError::Invalid(format!(
                "grants[{index}]: {grant:?} is not API/ROLE (e.g. orders-api/Orders.Read or api://orders/Orders.Read)"
            )));
        };
        let api = registry
            .apis
            .iter()
            .filter(|a| a.tenant_id == client.tenant_id)
            .find(|a| a.name == api_ref || a.identifier_uri == api_ref || a.client_id == api_ref)
            .ok_or_else(|| {
                IdpError::NotFound(format!(
                    "grants[{index}]: no API app {api_ref:?} in the client's tenant {}",
                    client.tenant_id
                ))
            })?;
        if !api.app_roles.iter().any(|r| r == role) {
            return Err(IdpError::Invalid(format!(
                "grants[{index}]: API app {:?} has no app role {role:?} (its roles: {})",
                api.name,
                if api.app_roles.is_empty() {
                    "none".to_string()
                } else {
                    api.app_roles.join(", ")
                }
            )));
        }
        rows.push(db::RoleGrantRow {
            client_id: client.client_id.clone(),
            api_client_id: api.client_id.clone(),
            role: role.to_string(),
            created_at: fngate_store::now_rfc3339(),
        });
    }
    Ok(rows)
}

/// Default secret lifetime (Entra recommends 180 days).
const DEFAULT_SECRET_DAYS: u32 = 180;
/// Longest secret lifetime Entra allows in the portal (24 months).
const MAX_SECRET_DAYS: u32 = 730;

fn new_secret_row(
    client_id: &str,
    new: &NewSecret,
    expires_at: Option<OffsetDateTime>,
) -> Result<(db::ClientSecretRow, String), IdpError> {
    let now = OffsetDateTime::now_utc();
    let expires_at = match expires_at {
        Some(at) => at,
        None => {
            let days = new.expires_in_days.unwrap_or(DEFAULT_SECRET_DAYS);
            if days == 0 || days > MAX_SECRET_DAYS {
                return Err(IdpError::Invalid(format!(
                    "expires_in_days: {days} is out of range (1 to {MAX_SECRET_DAYS})"
                )));
            }
            now + time::Duration::days(days.into())
        }
    };
    let value = secret::generate();
    let row = db::ClientSecretRow {
        id: new_guid(),
        client_id: client_id.to_string(),
        description: new.description.trim().to_string(),
        hint: secret::hint(&value),
        sha256: secret::hash(&value).to_vec(),
        created_at: format_time(now),
        expires_at: format_time(expires_at),
    };
    Ok((row, value))
}

fn valid_name(field: &str, name: &str) -> Result<String, IdpError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 120 || name.contains('/') || name.chars().any(char::is_control) {
        return Err(IdpError::Invalid(format!(
            "{field}: {name:?} must be 1 to 120 characters without '/' or control characters"
        )));
    }
    Ok(name.to_string())
}

fn valid_identifier_uri(uri: &str) -> Result<String, IdpError> {
    let parsed = url::Url::parse(uri)
        .map_err(|err| IdpError::Invalid(format!("identifier_uri: {uri:?} is not a URI ({err}); use api://NAME")))?;
    if !matches!(parsed.scheme(), "api" | "https" | "urn")
        || uri.ends_with("/.default")
        || uri.contains(char::is_whitespace)
    {
        return Err(IdpError::Invalid(format!(
            "identifier_uri: {uri:?} must start with api://, https:// or urn: and must not end with /.default"
        )));
    }
    Ok(uri.to_string())
}

/// Scope and app-role values: no spaces (they are space-separated in tokens), not empty, unique.
fn valid_values(kind: &str, values: &[String]) -> Result<Vec<String>, IdpError> {
    let mut out: Vec<String> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let value = value.trim();
        if value.is_empty() || value.len() > 120 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdpError::Invalid(format!(
                "{kind}s[{index}]: {value:?} must be 1 to 120 characters without spaces"
            )));
        }
        if !out.iter().any(|v| v == value) {
            out.push(value.to_string());
        }
    }
    Ok(out)
}

fn tenant_info(tenant: &registry::Tenant) -> TenantInfo {
    TenantInfo {
        id: tenant.id.clone(),
        name: tenant.name.clone(),
        is_default: tenant.is_default,
        created_at: tenant.created_at.clone(),
        issuer_v1: issuer_v1(&tenant.id),
        issuer_v2: issuer_v2(&tenant.id),
    }
}

fn api_info(api: &ApiApp) -> ApiAppInfo {
    ApiAppInfo {
        client_id: api.client_id.clone(),
        tenant_id: api.tenant_id.clone(),
        name: api.name.clone(),
        identifier_uri: api.identifier_uri.clone(),
        scopes: api.scopes.clone(),
        app_roles: api.app_roles.clone(),
        token_version: api.token_version,
        created_at: api.created_at.clone(),
        assignment_required: api.assignment_required,
        optional_claims: api.optional_claims.clone(),
        group_claims: api.group_claims,
    }
}

fn secret_info(client_id: &str, secret: &registry::ClientSecret) -> SecretInfo {
    SecretInfo {
        id: secret.id.clone(),
        client_id: client_id.to_string(),
        description: secret.description.clone(),
        hint: secret.hint.clone(),
        created_at: secret.created_at.clone(),
        expires_at: format_time(secret.expires_at),
        expired: secret.expires_at <= OffsetDateTime::now_utc(),
    }
}

fn client_info(registry: &Registry, client: &ClientApp) -> ClientAppInfo {
    let mut grants: Vec<GrantInfo> = client
        .grants
        .iter()
        .flat_map(|(api_id, roles)| {
            let api = registry.client_api(api_id);
            roles.iter().map(move |role| GrantInfo {
                api_client_id: api_id.clone(),
                api_name: api.map(|a| a.name.clone()).unwrap_or_default(),
                identifier_uri: api.map(|a| a.identifier_uri.clone()).unwrap_or_default(),
                role: role.clone(),
            })
        })
        .collect();
    grants.sort_by(|a, b| (&a.api_name, &a.role).cmp(&(&b.api_name, &b.role)));
    ClientAppInfo {
        client_id: client.client_id.clone(),
        tenant_id: client.tenant_id.clone(),
        name: client.name.clone(),
        object_id: client.object_id.clone(),
        created_at: client.created_at.clone(),
        grants,
        secrets: client
            .secrets
            .iter()
            .map(|s| secret_info(&client.client_id, s))
            .collect(),
        certificates: client
            .certificates
            .iter()
            .map(|c| certificate_info(&client.client_id, c))
            .collect(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(|(uri, platform)| RedirectUri {
                uri: uri.clone(),
                platform: platform.as_str().into(),
            })
            .collect(),
        public_client: client.public_client,
    }
}

fn certificate_info(client_id: &str, cert: &registry::ClientCertificate) -> CertificateInfo {
    CertificateInfo {
        id: cert.id.clone(),
        client_id: client_id.to_string(),
        description: cert.description.clone(),
        thumbprint: hex::encode_upper(&cert.sha1),
        thumbprint_sha256: hex::encode_upper(&cert.sha256),
        subject: cert.subject.clone(),
        not_before: format_time(cert.not_before),
        not_after: format_time(cert.not_after),
        expired: cert.not_after <= OffsetDateTime::now_utc(),
        created_at: cert.created_at.clone(),
    }
}

fn user_info(registry: &Registry, user: &registry::User) -> UserInfo {
    let mut assignments: Vec<String> = user
        .assignments
        .iter()
        .flat_map(|(api_id, roles)| {
            let api = registry
                .client_api(api_id)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| api_id.clone());
            roles.iter().map(move |role| {
                if role.is_empty() {
                    api.clone()
                } else {
                    format!("{api}/{role}")
                }
            })
        })
        .collect();
    assignments.sort();
    UserInfo {
        object_id: user.object_id.clone(),
        tenant_id: user.tenant_id.clone(),
        user_name: user.user_name.clone(),
        upn: user.upn.clone(),
        display_name: user.display_name.clone(),
        given_name: user.given_name.clone(),
        surname: user.surname.clone(),
        email: user.email.clone(),
        groups: user
            .groups
            .iter()
            .map(|(id, name)| GroupInfo {
                object_id: id.clone(),
                name: name.clone(),
            })
            .collect(),
        assignments,
        created_at: user.created_at.clone(),
    }
}

fn find_user<'a>(registry: &'a Registry, reference: &str) -> Result<&'a Arc<registry::User>, IdpError> {
    registry.find_user(reference).ok_or_else(|| {
        IdpError::NotFound(format!(
            "no user {reference:?} (by object id, user name or UPN; see `fngate idp user list`)"
        ))
    })
}

fn new_certificate_row(client_id: &str, new: &NewCertificate) -> Result<db::ClientCertificateRow, IdpError> {
    let der = certificate::der_from_pem(&new.pem)?;
    let parsed = certificate::parse(&der)?;
    Ok(db::ClientCertificateRow {
        id: new_guid(),
        client_id: client_id.to_string(),
        description: new.description.trim().to_string(),
        sha1: parsed.sha1,
        sha256: parsed.sha256,
        certificate: der,
        created_at: fngate_store::now_rfc3339(),
    })
}

/// Redirect URIs as Entra takes them: absolute, no fragment; https, or http only for
/// `localhost` / loopback (web, spa) and any custom scheme for the public platform.
fn redirect_uri_rows(client_id: &str, uris: &[RedirectUri]) -> Result<Vec<db::RedirectUriRow>, IdpError> {
    let mut rows = Vec::new();
    for (index, redirect) in uris.iter().enumerate() {
        let field = format!("redirect_uris[{index}]");
        let platform = registry::Platform::parse(&redirect.platform).ok_or_else(|| {
            IdpError::Invalid(format!(
                "{field}.platform: {:?} is not web, spa or public",
                redirect.platform
            ))
        })?;
        let uri = redirect.uri.trim();
        let parsed = url::Url::parse(uri)
            .map_err(|err| IdpError::Invalid(format!("{field}: {uri:?} is not an absolute URI ({err})")))?;
        if parsed.fragment().is_some() || uri.len() > 256 {
            return Err(IdpError::Invalid(format!(
                "{field}: {uri:?} must not have a #fragment and must be at most 256 characters"
            )));
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let allowed = match (parsed.scheme(), platform) {
            ("https", _) => true,
            ("http", _) => loopback,
            (_, registry::Platform::Public) => true,
            _ => false,
        };
        if !allowed {
            return Err(IdpError::Invalid(format!(
                "{field}: {uri:?} must use https (http only for localhost; custom schemes only for the public platform)"
            )));
        }
        rows.push(db::RedirectUriRow {
            client_id: client_id.to_string(),
            uri: uri.to_string(),
            platform: platform.as_str().to_string(),
            created_at: fngate_store::now_rfc3339(),
        });
    }
    Ok(rows)
}

/// Optional access-token claims fngate can emit (a subset of Entra's list).
pub const OPTIONAL_CLAIMS: &[&str] = &[
    "email",
    "upn",
    "given_name",
    "family_name",
    "idtyp",
    "ipaddr",
    "auth_time",
];

fn valid_optional_claims(claims: &[String]) -> Result<Vec<String>, IdpError> {
    let mut out: Vec<String> = Vec::new();
    for (index, claim) in claims.iter().enumerate() {
        let claim = claim.trim();
        if !OPTIONAL_CLAIMS.contains(&claim) {
            return Err(IdpError::Invalid(format!(
                "optional_claims[{index}]: {claim:?} is not an optional claim fngate emits ({})",
                OPTIONAL_CLAIMS.join(", ")
            )));
        }
        if !out.iter().any(|c| c == claim) {
            out.push(claim.to_string());
        }
    }
    Ok(out)
}

/// Sign-in names: Entra's mailNickname characters (letters, digits, `.`, `-`, `_`).
fn valid_user_name(name: &str) -> Result<String, IdpError> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(IdpError::Invalid(format!(
            "user name: {name:?} must be 1 to 64 letters, digits, '.', '-' or '_'"
        )));
    }
    Ok(name.to_string())
}

fn valid_upn(upn: &str) -> Result<String, IdpError> {
    match upn.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !upn.chars().any(|c| c.is_whitespace() || c.is_control())
                && upn.len() <= 113 =>
        {
            Ok(upn.to_string())
        }
        _ => Err(IdpError::Invalid(format!(
            "upn: {upn:?} is not a user principal name (name@domain.tld)"
        ))),
    }
}
