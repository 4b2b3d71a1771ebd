//! The API gateway data plane: deployments (path prefix + OCI `ApiSpecification`), router,
//! policy chain, backends.
//!
//! CONTRACT with the binary (`fngate up`); extend, do not break:
//! `Gateway::start(store, invoker, auth)` loads stored deployments; `serve(listener, tls,
//! shutdown)` runs the listener until `shutdown` is cancelled and in-flight requests drained;
//! `admin_router()` is merged into the admin listener.
//! Extensions: [`Gateway::status`] (deployments and their routes, for `fngate status`),
//! [`Gateway::reload`] (recompile stored deployments, e.g. after functions change),
//! [`Gateway::deploy`] / [`Gateway::delete`] (what the admin API calls), [`validate_offline`]
//! (for `fngate gateway validate` without a server), [`admin`] request/response types.
//!
//! Request flow: `server` (listener) → `pipeline` (stages in order) → `policy::*` →
//! `backend::*`; `observe` (metrics) and `access_log` (through `log_sink`) record each request;
//! `compile` turns a specification into the `table` the pipeline reads.

// A `Rejection` (status + headers) is the gateway's ordinary answer, not an exceptional path;
// boxing it on every refused request would only add an allocation.
#![allow(clippy::result_large_err)]

mod access_log;
pub mod admin;
mod auth_bridge;
mod backend;
mod compile;
mod context;
mod log_sink;
mod observe;
pub mod path;
mod pipeline;
mod policy;
mod respond;
mod router;
mod server;
mod table;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use fngate_auth::AuthService;
use fngate_invoke::FunctionInvoker;
use fngate_spec::SpecFormat;
use fngate_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use compile::{Problem, check_path_prefix};
pub use observe::{REQUEST_DURATION_BUCKETS, REQUEST_DURATION_METRIC};

use crate::compile::UnknownFunction;
use crate::table::RouteTable;

/// Largest request body the gateway accepts (OCI: 20 MB).
pub const MAX_REQUEST_BODY: usize = fngate_spec::limits::MAX_REQUEST_BODY_BYTES;
/// Largest request body passed to a function (OCI: 6 MB).
pub const MAX_FUNCTION_BODY: usize = fngate_spec::limits::MAX_FUNCTION_BODY_BYTES;
/// Method + URI + headers (OCI: 8 KB); larger heads get 431.
pub const MAX_HEADER_BYTES: usize = fngate_spec::limits::MAX_REQUEST_HEAD_BYTES;

/// State shared by the listener, the admin API and every request.
pub(crate) struct Shared {
    pub table: ArcSwap<RouteTable>,
    pub invoker: Arc<dyn FunctionInvoker>,
    pub auth: Arc<AuthService>,
    pub clients: backend::http::Clients,
    pub store: Store,
    /// Serialises deployment changes so the table and the store change in the same order.
    pub writes: tokio::sync::Mutex<()>,
    /// What each served deployment was compiled from ([`source_key`]), so [`Gateway::sync`]
    /// recompiles only what another node changed.
    pub served: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Rate limits shared through Redis (`--redis-url`); unset: each node limits alone.
    pub shared_limits: std::sync::OnceLock<policy::shared_limit::SharedLimits>,
}

pub struct Gateway {
    shared: Arc<Shared>,
    drain_timeout: std::sync::Mutex<Duration>,
}

/// A deployment as `fngate status` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    pub name: String,
    pub path_prefix: String,
    /// In matching order (most specific first).
    pub routes: Vec<RouteStatus>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    pub path: String,
    pub methods: Vec<String>,
    pub backend: String,
}

/// Why a deployment was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("the specification is invalid ({} problem(s))", errors.len())]
    Invalid {
        errors: Vec<Problem>,
        warnings: Vec<Problem>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("store error: {0}")]
    Store(StoreError),
}

/// The result of validating (and, for deploy, applying) a specification.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ValidationReport {
    pub valid: bool,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Gateway {
    pub async fn start(
        store: Store,
        invoker: Arc<dyn FunctionInvoker>,
        auth: Arc<AuthService>,
    ) -> anyhow::Result<Arc<Gateway>> {
        let shared = Arc::new(Shared {
            table: ArcSwap::from_pointee(RouteTable::default()),
            invoker,
            auth,
            clients: backend::http::Clients::default(),
            store,
            writes: tokio::sync::Mutex::new(()),
            served: std::sync::Mutex::default(),
            shared_limits: std::sync::OnceLock::new(),
        });
        load_all(&shared).await?;
        Ok(Arc::new(Gateway {
            shared,
            drain_timeout: std::sync::Mutex::new(server::DRAIN_TIMEOUT),
        }))
    }

    /// Recompiles every stored deployment and swaps the table. Function changes need no reload:
    /// a function route looks its function up by app and name on every call.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _guard = self.shared.writes.lock().await;
        load_all(&self.shared).await
    }

    /// Enforces every deployment's rate limit across all nodes through the Redis at `url`
    /// (`redis://host:port`); set once, before serving. Returns Redis's `host:port`.
    pub fn share_rate_limits(&self, url: &str) -> Result<String, String> {
        let limits = policy::shared_limit::SharedLimits::new(url)?;
        let address = limits.address().to_string();
        self.shared
            .shared_limits
            .set(limits)
            .map_err(|_| "rate limits are already shared".to_string())?;
        Ok(address)
    }

    /// Applies what another node changed in the store (several nodes on one database):
    /// recompiles only the deployments whose stored prefix or text differ from what is served
    /// and drops the deleted ones; the rest keep their state (rate-limit buckets, fetched keys).
    pub async fn sync(&self) -> anyhow::Result<()> {
        let _guard = self.shared.writes.lock().await;
        let records = self.shared.store.list_deployments().await?;
        let mut next = RouteTable::new(self.shared.table.load().deployments().to_vec());
        let mut served = self.shared.served.lock().map(|s| s.clone()).unwrap_or_default();
        for record in &records {
            let key = source_key(&record.path_prefix, &record.spec_format, &record.spec_text);
            if served.get(&record.name) == Some(&key) {
                continue;
            }
            let format = format_of(&record.spec_format);
            // As at start: a stored deployment naming a deleted function still loads.
            let compiled = compile_text(
                &self.shared,
                &record.name,
                &record.path_prefix,
                &record.spec_text,
                format,
                UnknownFunction::ServeAsDeleted,
            );
            match compiled.await {
                Ok((deployment, _)) => {
                    next = next.with(Arc::new(deployment));
                    served.insert(record.name.clone(), key);
                }
                Err((errors, _)) => {
                    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    tracing::error!(target: "fngate::gateway", deployment = %record.name, problems = %text.join("; "),
                        "stored deployment does not load; it is not served until redeployed");
                    next = next.without(&record.name);
                    served.remove(&record.name);
                }
            }
        }
        let gone: Vec<String> = served
            .keys()
            .filter(|name| !records.iter().any(|r| &r.name == *name))
            .cloned()
            .collect();
        for name in gone {
            next = next.without(&name);
            served.remove(&name);
        }
        self.shared.table.store(Arc::new(next));
        if let Ok(mut slot) = self.shared.served.lock() {
            *slot = served;
        }
        Ok(())
    }

    /// Changes how long `serve` waits for in-flight requests at shutdown (default 30 s).
    pub fn set_drain_timeout(&self, timeout: Duration) {
        if let Ok(mut t) = self.drain_timeout.lock() {
            *t = timeout;
        }
    }

    /// Serves the gateway listener until `shutdown`, with `limits` on its connections.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: fngate_http::ConnectionLimits,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let drain = self.drain_timeout.lock().map(|t| *t).unwrap_or(server::DRAIN_TIMEOUT);
        let listener = fngate_http::Listener::new(listener, "gateway", limits);
        server::serve(self.shared.clone(), listener, tls, shutdown, drain).await
    }

    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        admin::router(self.clone())
    }

    /// Deployments being served and their routes (for `fngate status`).
    pub fn status(&self) -> Vec<DeploymentStatus> {
        let table = self.shared.table.load();
        let mut all: Vec<DeploymentStatus> = table
            .deployments()
            .iter()
            .map(|d| DeploymentStatus {
                name: d.name.to_string(),
                path_prefix: d.path_prefix.clone(),
                routes: d
                    .routes
                    .iter()
                    .map(|r| RouteStatus {
                        path: r.path().to_string(),
                        methods: r.methods.names(),
                        backend: r.backend.type_name().to_string(),
                    })
                    .collect(),
            })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Validates, stores and serves a deployment (create or replace by name). Takes effect at
    /// once; requests already running finish on the table they started with.
    pub async fn deploy(
        &self,
        name: &str,
        path_prefix: &str,
        format: SpecFormat,
        text: &str,
    ) -> Result<(fngate_store::deployments::PutOutcome, ValidationReport), DeployError> {
        check_name(name).map_err(|m| DeployError::Invalid {
            errors: vec![Problem {
                path: "name".into(),
                message: m,
            }],
            warnings: Vec::new(),
        })?;
        let _guard = self.shared.writes.lock().await;
        let (deployment, mut warnings) =
            compile_text(&self.shared, name, path_prefix, text, format, UnknownFunction::Refuse)
                .await
                .map_err(|(errors, warnings)| DeployError::Invalid { errors, warnings })?;
        // Served anyway, as OCI does (500s until the keys come), but never silently.
        if let Some(why) = deployment
            .auth
            .as_ref()
            .and_then(|a| a.authenticator.keys_unavailable())
        {
            warnings.push(Problem {
                path: "requestPolicies.authentication".into(),
                message: why,
            });
        }
        let taken = self
            .shared
            .table
            .load()
            .deployments()
            .iter()
            .find(|d| d.match_prefix == deployment.match_prefix && &*d.name != name)
            .map(|d| d.name.to_string());
        if let Some(other) = taken {
            return Err(DeployError::Conflict(format!(
                "path prefix {path_prefix} is already used by deployment {other:?}"
            )));
        }
        let (outcome, _) = self
            .shared
            .store
            .put_deployment(name, path_prefix, format_name(format), text)
            .await
            .map_err(|err| match err {
                StoreError::Conflict { entity } => DeployError::Conflict(format!("{entity} already exists")),
                other => DeployError::Store(other),
            })?;
        let next = self.shared.table.load().with(Arc::new(deployment));
        self.shared.table.store(Arc::new(next));
        if let Ok(mut served) = self.shared.served.lock() {
            served.insert(name.to_string(), source_key(path_prefix, format_name(format), text));
        }
        Ok((
            outcome,
            ValidationReport {
                valid: true,
                errors: Vec::new(),
                warnings,
            },
        ))
    }

    pub async fn delete(&self, name: &str) -> Result<(), DeployError> {
        let _guard = self.shared.writes.lock().await;
        self.shared
            .store
            .delete_deployment(name)
            .await
            .map_err(|err| match err {
                StoreError::NotFound { entity } => DeployError::NotFound(format!("{entity} not found")),
                other => DeployError::Store(other),
            })?;
        let next = self.shared.table.load().without(name);
        self.shared.table.store(Arc::new(next));
        if let Ok(mut served) = self.shared.served.lock() {
            served.remove(name);
        }
        Ok(())
    }

    /// Validates against this server: functions must exist, and every JWKS / discovery URI is
    /// fetched now (as this server would, CAs and redirect rules included); a failure is an error
    /// at the URI's JSON path.
    pub async fn validate(&self, path_prefix: Option<&str>, format: SpecFormat, text: &str) -> ValidationReport {
        let mut report = validate_with(
            &self.shared.clients,
            Some(self.shared.invoker.as_ref()),
            path_prefix,
            format,
            text,
        )
        .await;
        let authentication = fngate_spec::parse(text, format)
            .ok()
            .and_then(|parsed| parsed.spec.request_policies.and_then(|p| p.authentication));
        // A policy that did not compile already has its error; fetching adds nothing.
        let compiled = !report
            .errors
            .iter()
            .any(|p| p.path.starts_with("requestPolicies.authentication"));
        if let Some(policy) = authentication.filter(|_| compiled) {
            for (path, message) in self.shared.auth.probe_key_sources(&policy).await {
                report.errors.push(Problem { path, message });
            }
        }
        report.valid = report.errors.is_empty();
        report
    }

    pub(crate) fn store(&self) -> &Store {
        &self.shared.store
    }
}

/// Compiles every stored deployment into a fresh table. A deployment that no longer compiles
/// (say, its function was deleted) is left out — fail closed — and the log says why.
async fn load_all(shared: &Shared) -> anyhow::Result<()> {
    let mut loaded = Vec::new();
    let mut served = std::collections::HashMap::new();
    for record in shared.store.list_deployments().await? {
        let format = format_of(&record.spec_format);
        let loaded_text = compile_text(
            shared,
            &record.name,
            &record.path_prefix,
            &record.spec_text,
            format,
            UnknownFunction::ServeAsDeleted,
        );
        match loaded_text.await {
            Ok((deployment, _)) => {
                loaded.push(Arc::new(deployment));
                served.insert(
                    record.name.clone(),
                    source_key(&record.path_prefix, &record.spec_format, &record.spec_text),
                );
            }
            Err((errors, _)) => {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                tracing::error!(
                    target: "fngate::gateway",
                    deployment = %record.name,
                    problems = %text.join("; "),
                    "stored deployment does not load; it is not served until redeployed"
                );
            }
        }
    }
    tracing::info!(target: "fngate::gateway", deployments = loaded.len(), "gateway deployments loaded");
    shared.table.store(Arc::new(RouteTable::new(loaded)));
    if let Ok(mut slot) = shared.served.lock() {
        *slot = served;
    }
    Ok(())
}

/// What a deployment was compiled from: its prefix, format and text.
fn source_key(path_prefix: &str, format: &str, text: &str) -> String {
    format!("{path_prefix}\n{format}\n{text}")
}

/// Validates a specification without a server: syntax, structure, OCI limits and everything the
/// gateway checks at load time, except that functions are not resolved and keys not fetched.
pub async fn validate_offline(path_prefix: Option<&str>, format: SpecFormat, text: &str) -> ValidationReport {
    let clients = backend::http::Clients::default();
    validate_with(&clients, None, path_prefix, format, text).await
}

async fn validate_with(
    clients: &backend::http::Clients,
    invoker: Option<&dyn FunctionInvoker>,
    path_prefix: Option<&str>,
    format: SpecFormat,
    text: &str,
) -> ValidationReport {
    let env = compile::Env {
        invoker,
        clients,
        auth: None,
        unknown_function: UnknownFunction::Refuse,
    };
    let (errors, warnings) = match fngate_spec::parse(text, format) {
        Err(found) => (
            found.errors.iter().map(spec_error).collect(),
            found.warnings.iter().map(spec_warning).collect(),
        ),
        Ok(parsed) => {
            let warnings: Vec<Problem> = parsed.warnings.iter().map(spec_warning).collect();
            match compile::compile("validate", path_prefix.unwrap_or("/"), &parsed.spec, &env).await {
                Ok(_) => (Vec::new(), warnings),
                Err(errors) => (errors, warnings),
            }
        }
    };
    ValidationReport {
        valid: errors.is_empty(),
        errors,
        warnings,
    }
}

/// Parses and compiles against this server (functions resolved, authenticator built).
/// `Err((errors, warnings))` when the specification cannot be served.
async fn compile_text(
    shared: &Shared,
    name: &str,
    path_prefix: &str,
    text: &str,
    format: SpecFormat,
    unknown_function: UnknownFunction,
) -> Result<(table::Deployment, Vec<Problem>), (Vec<Problem>, Vec<Problem>)> {
    let parsed = fngate_spec::parse(text, format).map_err(|found| {
        (
            found.errors.iter().map(spec_error).collect::<Vec<_>>(),
            found.warnings.iter().map(spec_warning).collect::<Vec<_>>(),
        )
    })?;
    let env = compile::Env {
        invoker: Some(shared.invoker.as_ref()),
        clients: &shared.clients,
        auth: Some(&shared.auth),
        unknown_function,
    };
    let warnings: Vec<Problem> = parsed.warnings.iter().map(spec_warning).collect();
    match compile::compile(name, path_prefix, &parsed.spec, &env).await {
        Ok(deployment) => Ok((deployment, warnings)),
        Err(errors) => Err((errors, warnings)),
    }
}

fn spec_error(e: &fngate_spec::SpecError) -> Problem {
    let path = match (e.line, e.column) {
        (Some(line), Some(column)) if e.path == fngate_spec::ROOT_PATH => format!("line {line}, column {column}"),
        _ => e.path.clone(),
    };
    Problem {
        path,
        message: e.message.clone(),
    }
}

fn spec_warning(w: &fngate_spec::SpecWarning) -> Problem {
    Problem {
        path: w.path.clone(),
        message: w.message.clone(),
    }
}

/// Deployment names: 1–100 characters of letters, digits, `-`, `_`, `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err("must be 1 to 100 characters long".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("{name:?} may use only letters, digits, '-', '_' and '.'"));
    }
    Ok(())
}

pub fn format_of(name: &str) -> SpecFormat {
    if name.eq_ignore_ascii_case("yaml") || name.eq_ignore_ascii_case("yml") {
        SpecFormat::Yaml
    } else {
        SpecFormat::Json
    }
}

pub fn format_name(format: SpecFormat) -> &'static str {
    match format {
        SpecFormat::Json => "json",
        SpecFormat::Yaml => "yaml",
    }
}
