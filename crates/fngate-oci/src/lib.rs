//! The OCI REST APIs over fngate's own objects, so the `oci` CLI and the OCI SDKs manage and
//! invoke fngate: Functions management and invoke (`/20181201`, and `/20260325` that current
//! SDKs call), API Gateway gateways, deployments and work requests (`/20190501`). Every call
//! carries an OCI request signature from a key registered with fngate ([`signature`]).
//!
//! CONTRACT with the binary (`fngate up`): [`Oci::start`] with the store, the functions runtime
//! and the gateway; [`Oci::router`] is served on its own listener (`--oci-addr`);
//! [`Oci::admin_router`] (API keys) is merged into the admin listener.
//!
//! One store, two views: OCI applications and functions ARE the Fn API's apps and fns (written
//! through `fngate_functions::api`'s shared write paths), OCI deployments ARE `fngate gateway`
//! deployments (written through [`fngate_gateway::Gateway::deploy`]). Only what OCI adds
//! (compartment, tags, gateways, work requests, retry tokens) lives in the `oci_*` tables.
//!
//! Modules: `signature` (verification), `functions` (applications and functions), `invoke`,
//! `apigateway` (gateways, deployments, work requests), `images` (what `image` names),
//! `retry` (`opc-retry-token`), `paging`, `ocid`, `error`, `admin`.

pub mod admin;
mod apigateway;
pub mod error;
mod functions;
pub mod images;
mod invoke;
pub mod ocid;
mod paging;
mod retry;
pub mod signature;

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fngate_functions::Runtime;
use fngate_gateway::Gateway;
use fngate_store::Store;
use serde_json::{Map, Value};

use crate::error::{OciError, OciResult};
use crate::signature::KeyRing;

/// Largest request body (OCI Functions' invoke limit, 6 MB; management bodies are far smaller).
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
pub const REQUEST_ID_HEADER: &str = "opc-request-id";

/// Where the other listeners are, for the URLs the OCI resources carry.
#[derive(Debug, Clone)]
pub struct OciConfig {
    /// The gateway listener's base URL (`http://127.0.0.1:8080`): gateways' `hostname`,
    /// deployments' `endpoint`.
    pub gateway_url: String,
}

pub struct Oci {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub gateway: Arc<Gateway>,
    pub keys: ArcSwap<KeyRing>,
    pub tenancy: String,
    pub config: OciConfig,
    pub images: images::Images,
    /// Serialises requests that carry an `opc-retry-token`, so a retry racing the original
    /// finds its answer instead of running again.
    pub retries: tokio::sync::Mutex<()>,
    /// Serialises gateway and deployment changes with their OCI rows and work requests.
    pub writes: tokio::sync::Mutex<()>,
}

impl Oci {
    pub async fn start(
        store: Store,
        runtime: Arc<Runtime>,
        gateway: Arc<Gateway>,
        config: OciConfig,
    ) -> anyhow::Result<Arc<Oci>> {
        let tenancy =
            fngate_store::oci::tenancy(store.pool(), || ocid::make(ocid::TENANCY, &ocid::new_unique())).await?;
        let keys = KeyRing::new(&fngate_store::oci::list_api_keys(store.pool()).await?);
        let shared = Arc::new(Shared {
            store,
            runtime,
            gateway,
            keys: ArcSwap::from_pointee(keys),
            tenancy,
            config,
            images: images::Images::default(),
            retries: tokio::sync::Mutex::new(()),
            writes: tokio::sync::Mutex::new(()),
        });
        apigateway::ensure_default_gateway(&shared).await?;
        Ok(Arc::new(Oci { shared }))
    }

    /// Re-reads what another node may have changed (API signing keys; the rest is read per
    /// request).
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.shared
            .reload_keys()
            .await
            .map_err(|err| anyhow::anyhow!("OCI API keys: {} ({})", err.message, err.code))
    }

    /// The tenancy OCID every key of this data directory belongs to.
    pub fn tenancy(&self) -> &str {
        &self.shared.tenancy
    }

    /// The OCI listener: every route behind signature verification, OCI's 404 for the rest.
    pub fn router(&self) -> axum::Router {
        let shared = self.shared.clone();
        axum::Router::new()
            .nest("/20181201", functions::router(functions::ApiVersion::V20181201))
            .nest("/20260325", functions::router(functions::ApiVersion::V20260325))
            .nest("/20190501", apigateway::router())
            .fallback(|method: Method, uri: Uri| async move {
                OciError::new(
                    StatusCode::NOT_FOUND,
                    "NotAuthorizedOrNotFound",
                    format!("Path not found: {method} {}", uri.path()),
                )
            })
            .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
                OciError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!("Method not allowed: {method} {}", uri.path()),
                )
            })
            .with_state(shared.clone())
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .layer(axum::middleware::from_fn_with_state(shared, authenticate))
    }

    /// Admin routes (API keys, the config the CLI prints), merged into the admin listener.
    pub fn admin_router(&self) -> axum::Router {
        admin::router(self.shared.clone())
    }
}

impl Shared {
    /// Re-reads the registered keys after a change.
    pub async fn reload_keys(&self) -> OciResult<()> {
        let rows = fngate_store::oci::list_api_keys(self.store.pool()).await?;
        self.keys.store(Arc::new(KeyRing::new(&rows)));
        Ok(())
    }
}

/// Every request: its `opc-request-id` (the client's, or a new one) on the answer, the body read
/// (at most [`MAX_REQUEST_BYTES`]), the signature verified, then `opc-retry-token` replay.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 98)
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let mut response = authenticated(&shared, request, next).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

async fn authenticated(shared: &Arc<Shared>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("the request body is larger than {MAX_REQUEST_BYTES} bytes (6 MB, as OCI)"),
            )
            .into_response();
        }
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let verified = signature::verify(
        &shared.keys.load(),
        &shared.tenancy,
        &parts.method,
        &target,
        &parts.headers,
        &body,
        SystemTime::now(),
    );
    match verified {
        Ok(caller) => {
            parts.extensions.insert(caller);
        }
        Err(reason) => {
            tracing::info!(target: "fngate::oci", method = %parts.method, path = %parts.uri.path(), reason = %reason, "request refused: NotAuthenticated");
            return OciError::not_authenticated(&reason).into_response();
        }
    }
    retry::run(shared, parts, body, next).await
}

// === helpers shared by the API modules ===

/// A JSON answer with an `etag`.
pub(crate) fn json_answer(status: StatusCode, value: &Value, etag: Option<&str>) -> Response {
    let mut response = (status, value.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        headers.insert(http::header::ETAG, value);
    }
    response
}

/// An opaque etag over what makes a resource's current version.
pub(crate) fn etag_of(parts: &[&str]) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part.as_bytes());
        context.update(&[0]);
    }
    context.finish().as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `if-match` against the resource's current etag: OCI's 412 when they differ.
pub(crate) fn check_if_match(headers: &HeaderMap, current: &str) -> OciResult<()> {
    match headers.get(http::header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        Some(given) if given.trim() == "*" || given.trim().trim_matches('"') == current => Ok(()),
        Some(_) => Err(OciError::new(
            StatusCode::PRECONDITION_FAILED,
            "NoEtagMatch",
            "The if-match etag does not match the resource's current etag",
        )),
    }
}

/// Parses a JSON object body; OCI's 400 when it is not one.
pub(crate) fn parse_object(body: &Bytes) -> OciResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OciError::invalid("the request body must be a JSON object")),
        Err(err) => Err(OciError::invalid(format!("the request body is not valid JSON: {err}"))),
    }
}

/// `http://<Host>` as the client reached this listener (the Host header is signed).
pub(crate) fn listener_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:9091");
    format!("http://{host}")
}

/// A string field of a body, `MissingParameter` when absent, `InvalidParameter` when not text.
pub(crate) fn required_str<'a>(body: &'a Map<String, Value>, name: &str) -> OciResult<&'a str> {
    match body.get(name) {
        None | Some(Value::Null) => Err(OciError::missing(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(OciError::missing(name)),
        Some(_) => Err(OciError::invalid(format!("{name} must be a string"))),
    }
}

pub(crate) fn optional_str<'a>(body: &'a Map<String, Value>, name: &str) -> OciResult<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OciError::invalid(format!("{name} must be a string"))),
    }
}

/// Copies the body fields fngate records but does not act on (`names`) into `into`.
pub(crate) fn record_fields(into: &mut Map<String, Value>, body: &Map<String, Value>, names: &[&str]) {
    for name in names {
        if let Some(value) = body.get(*name) {
            if value.is_null() {
                into.remove(*name);
            } else {
                into.insert((*name).to_string(), value.clone());
            }
        }
    }
}

pub(crate) fn fields_of(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}
