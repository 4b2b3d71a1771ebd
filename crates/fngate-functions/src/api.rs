//! Fn API v2 (`fn:api/server/server.go`): apps, fns and triggers CRUD with Fn's shapes, cursors
//! and error bodies; `/invoke/{fnID}` and HTTP triggers `/t/{app}/{source}`; plus the admin
//! routes the CLI uses (deploy stream, logs, instance status).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fngate_invoke::http_front::{self, HttpFront};
use fngate_invoke::{InvokeError, InvokeRequest};
use fngate_store::StoreError;
use fngate_store::functions::{self as db, AppRow, FnRow, Page, TriggerRow};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::Runtime;
use crate::model::{self, App, AppInput, Fn, FnInput, List, Trigger, TriggerInput};

/// Largest request body accepted for invocations (Fn's default `FN_MAX_REQUEST_SIZE` is 6 MiB).
const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

type Rt = State<Arc<Runtime>>;

/// An error answered as Fn does: `{"message": "..."}` with `application/json; charset=utf-8`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
    pub call_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            call_id: None,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    fn conflict(message: &str) -> Self {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn from_invoke(err: InvokeError, call_id: Option<String>) -> Self {
        let retry_after = match &err {
            InvokeError::TooBusy { retry_after } => Some(retry_after.as_secs()),
            _ => None,
        };
        let message = match &err {
            InvokeError::NotFound => "Fn not found".to_string(),
            other => other.to_string(),
        };
        ApiError {
            status: err.status(),
            message,
            retry_after,
            call_id,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store error in the Fn API");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        tracing::error!(error = %err, "error in the Fn API");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, json!({ "message": self.message }).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(call_id) = self.call_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            headers.insert("fn-call-id", call_id);
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Whether `path` on the functions listener is data plane, served to anyone as in Fn: the root
/// greeting and HTTP triggers `/t/{app}/{source}`. Every other path (the Fn API v2, `/invoke`,
/// and any path not routed) is control plane and needs the admin credential; `fngate up` guards
/// the listener with this allow-list, so a route added later is guarded unless listed here.
pub fn is_data_plane_path(path: &str) -> bool {
    path == "/" || path.starts_with("/t/")
}

/// Whether a control-plane `path` takes a body of any content type: `/invoke/{fnID}`, whose body
/// is the function's input, and the deploy upload. Every other state-changing control-plane call takes JSON.
pub fn takes_any_body(path: &str) -> bool {
    // The deploy upload checks its own media type (`application/gzip`, see `deploy`).
    path.starts_with("/invoke/") || path == "/fngate/functions/deploy"
}

/// The functions listener: Fn API v2, invoke, triggers; Fn's 404/405 bodies.
pub fn api_router(runtime: Arc<Runtime>) -> Router {
    v2_routes()
        .route(
            "/",
            get(|| async { axum::Json(json!({"goto": "https://github.com/fnproject/fn", "hello": "world!"})) }),
        )
        .route("/t/{app}", any(http_trigger_root))
        .route("/t/{app}/{*source}", any(http_trigger))
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::not_found(&format!("Path not found: {method} {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Method not allowed: {method} {}", uri.path()),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(runtime)
}

/// The admin listener: the same Fn API v2 and invoke (what the CLI uses), plus deploy, logs
/// and instance status. No fallback: other components' admin routes are merged alongside.
pub fn admin_router(runtime: Arc<Runtime>) -> Router {
    v2_routes()
        .route("/fngate/functions/deploy", post(crate::deploy::deploy_handler))
        .route("/fngate/functions/logs", get(logs_handler))
        .route("/fngate/functions/status", get(status_handler))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(runtime)
}

fn v2_routes() -> Router<Arc<Runtime>> {
    Router::new()
        .route("/v2/apps", get(list_apps).post(create_app))
        .route("/v2/apps/{id}", get(get_app).put(update_app).delete(delete_app))
        .route("/v2/fns", get(list_fns).post(create_fn))
        .route("/v2/fns/{id}", get(get_fn).put(update_fn).delete(delete_fn))
        .route("/v2/triggers", get(list_triggers).post(create_trigger))
        .route(
            "/v2/triggers/{id}",
            get(get_trigger).put(update_trigger).delete(delete_trigger),
        )
        .route("/invoke/{fn_id}", post(invoke))
}

// === paging ===

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    app_id: Option<String>,
    fn_id: Option<String>,
    name: Option<String>,
    cursor: Option<String>,
    per_page: Option<String>,
}

/// `per_page` defaults to 30, caps at 100; `cursor` is base64url(last name) (`fn:api/server/server.go`).
fn page(query: &ListQuery) -> ApiResult<Page> {
    let per_page = query
        .per_page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .map(|p| if p <= 0 { 30 } else { p.min(100) })
        .unwrap_or(30);
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => {
            let raw = URL_SAFE_NO_PAD
                .decode(cursor.trim_end_matches('='))
                .map_err(|_| ApiError::bad("Invalid cursor"))?;
            Some(String::from_utf8(raw).map_err(|_| ApiError::bad("Invalid cursor"))?)
        }
    };
    Ok(Page {
        name: query.name.clone().filter(|n| !n.is_empty()),
        after,
        limit: per_page,
    })
}

fn list_of<T>(items: Vec<T>, limit: i64, name_of: impl std::ops::Fn(&T) -> &str) -> List<T> {
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|last| URL_SAFE_NO_PAD.encode(name_of(last))))
        .flatten();
    List { items, next_cursor }
}

fn parse_body<T: DeserializeOwned + Default>(body: &Bytes, missing: &str) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad(missing));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::bad("Invalid JSON"))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8081");
    format!("http://{host}")
}

fn annotate_fn(mut f: Fn, base: &str) -> Fn {
    f.annotations.insert(
        model::INVOKE_ENDPOINT_ANNOTATION.into(),
        Value::String(format!("{base}/invoke/{}", f.id)),
    );
    f
}

fn annotate_trigger(mut t: Trigger, app_name: &str, base: &str) -> Trigger {
    t.annotations.insert(
        model::TRIGGER_ENDPOINT_ANNOTATION.into(),
        Value::String(format!("{base}/t/{app_name}{}", t.source)),
    );
    t
}

// === apps ===

async fn list_apps(State(rt): Rt, Query(query): Query<ListQuery>) -> ApiResult<axum::Json<List<App>>> {
    let page = page(&query)?;
    let rows = db::list_apps(rt.store().pool(), &page).await?;
    let apps = rows.iter().map(App::from).collect();
    Ok(axum::Json(list_of(apps, page.limit, |a: &App| &a.name)))
}

async fn get_app(State(rt): Rt, Path(id): Path<String>) -> ApiResult<axum::Json<App>> {
    let row = db::get_app(rt.store().pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    Ok(axum::Json(App::from(&row)))
}

async fn create_app(State(rt): Rt, body: Bytes) -> ApiResult<Response> {
    let input: AppInput = parse_body(&body, "Missing new application")?;
    let row = new_app_row(input)?;
    store_new_app(&rt, &row).await?;
    Ok(with_app_warnings(&row, axum::Json(App::from(&row))))
}

/// An app answer with a `Warning: 299` header (RFC 9111 §5.5) per field fngate stores but does
/// not act on (`syslog_url`); the CLI prints them.
fn with_app_warnings(row: &AppRow, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if row.syslog_url.as_deref().is_some_and(|u| !u.is_empty()) {
        tracing::warn!(app = %row.name, "syslog_url: {}", model::SYSLOG_NOT_ACTED_ON);
        let text = format!(
            "299 fngate \"syslog_url: {}\"",
            model::SYSLOG_NOT_ACTED_ON.replace('`', "'")
        );
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    response
}

// The write paths below are shared by the Fn API handlers and the OCI Functions API
// (`fngate-oci`): one store, two views, the same validation and the same reload.

/// Stores a new app made by [`new_app_row`] (under the write lock, then reloads).
pub async fn store_new_app(rt: &Runtime, row: &AppRow) -> ApiResult<()> {
    let _guard = rt.lock_writes().await;
    let mut tx = rt.store().pool().begin().await.map_err(StoreError::from)?;
    match db::insert_app(&mut tx, row).await {
        Err(StoreError::Conflict { .. }) => return Err(ApiError::conflict("App already exists")),
        other => other?,
    }
    tx.commit().await.map_err(StoreError::from)?;
    rt.reload().await?;
    Ok(())
}

/// Validates a new app (shared with deploy `--create-app`).
pub fn new_app_row(input: AppInput) -> ApiResult<AppRow> {
    let name = input.name.unwrap_or_default();
    model::validate_app_name(&name).map_err(ApiError::bad)?;
    let mut config = Map::new();
    model::merge_config(&mut config, &input.config.unwrap_or_default()).map_err(ApiError::bad)?;
    let mut annotations = Map::new();
    model::merge_annotations(&mut annotations, &input.annotations.unwrap_or_default()).map_err(ApiError::bad)?;
    let syslog_url = input.syslog_url.filter(|s| !s.is_empty());
    if let Some(url) = &syslog_url {
        model::validate_syslog_url(url).map_err(ApiError::bad)?;
    }
    if let Some(shape) = &input.shape {
        model::validate_shape(shape).map_err(ApiError::bad)?;
    }
    let now = model::now();
    Ok(AppRow {
        id: model::new_id(),
        name,
        config: model::map_text(&config),
        annotations: model::map_text(&annotations),
        syslog_url,
        shape: input.shape,
        created_at: now.clone(),
        updated_at: now,
    })
}

async fn update_app(State(rt): Rt, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let input: AppInput = parse_body(&body, "Missing new application")?;
    let updated = update_stored_app(&rt, &id, input).await?;
    Ok(with_app_warnings(&updated, axum::Json(App::from(&updated))))
}

/// Merges an update into a stored app (Fn's rules), writes it and reloads; the new row.
pub async fn update_stored_app(rt: &Runtime, id: &str, input: AppInput) -> ApiResult<AppRow> {
    let _guard = rt.lock_writes().await;
    let row = db::get_app(rt.store().pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    if input.id.as_deref().is_some_and(|given| given != id) {
        return Err(ApiError::bad("App ID in path does not match ID in body"));
    }
    if input.name.as_deref().is_some_and(|given| given != row.name) {
        return Err(ApiError::conflict("Could not update - name is immutable"));
    }
    let mut app = App::from(&row);
    if let Some(change) = &input.config {
        model::merge_config(&mut app.config, change).map_err(ApiError::bad)?;
    }
    if let Some(change) = &input.annotations {
        model::merge_annotations(&mut app.annotations, change).map_err(ApiError::bad)?;
    }
    if let Some(url) = input.syslog_url {
        if url.is_empty() {
            app.syslog_url = None;
        } else {
            model::validate_syslog_url(&url).map_err(ApiError::bad)?;
            app.syslog_url = Some(url);
        }
    }
    if let Some(shape) = input.shape {
        model::validate_shape(&shape).map_err(ApiError::bad)?;
        app.shape = Some(shape);
    }
    let updated = AppRow {
        config: model::map_text(&app.config),
        annotations: model::map_text(&app.annotations),
        syslog_url: app.syslog_url.clone(),
        shape: app.shape.clone(),
        updated_at: model::now(),
        ..row
    };
    db::update_app(rt.store().pool(), &updated).await?;
    rt.reload().await?;
    Ok(updated)
}

async fn delete_app(State(rt): Rt, Path(id): Path<String>) -> ApiResult<StatusCode> {
    delete_stored_app(&rt, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an app with its fns and triggers, reloads, and drops the fns' logs.
pub async fn delete_stored_app(rt: &Runtime, id: &str) -> ApiResult<()> {
    let _guard = rt.lock_writes().await;
    let fns: Vec<String> = rt
        .snapshot()
        .fns
        .values()
        .filter(|e| e.app.id == id)
        .map(|e| e.f.id.clone())
        .collect();
    match db::delete_app(rt.store().pool(), id).await {
        Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found("App not found")),
        other => other?,
    }
    rt.reload().await?;
    for fn_id in fns {
        rt.logs().remove(&fn_id);
    }
    Ok(())
}

// === fns ===

async fn list_fns(
    State(rt): Rt,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<List<Fn>>> {
    let app_id = query
        .app_id
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad("Missing AppID on Fn"))?;
    let page = page(&query)?;
    let rows = db::list_fns(rt.store().pool(), &app_id, &page).await?;
    let base = base_url(&headers);
    let fns = rows.iter().map(|r| annotate_fn(Fn::from(r), &base)).collect();
    Ok(axum::Json(list_of(fns, page.limit, |f: &Fn| &f.name)))
}

async fn get_fn(State(rt): Rt, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<axum::Json<Fn>> {
    let row = db::get_fn(rt.store().pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Fn not found"))?;
    Ok(axum::Json(annotate_fn(Fn::from(&row), &base_url(&headers))))
}

async fn create_fn(State(rt): Rt, headers: HeaderMap, body: Bytes) -> ApiResult<axum::Json<Fn>> {
    let input: FnInput = parse_body(&body, "Missing new fn")?;
    let row = create_stored_fn(&rt, input, None).await?;
    Ok(axum::Json(annotate_fn(Fn::from(&row), &base_url(&headers))))
}

/// Validates and stores a new fn (Fn's rules), then reloads. `deployment` is the code it runs
/// (the `fn_fns.deployment` JSON), when the caller has it already (OCI: an image fngate has).
pub async fn create_stored_fn(rt: &Runtime, input: FnInput, deployment: Option<String>) -> ApiResult<FnRow> {
    let app_id = input
        .app_id
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad("Missing AppID on Fn"))?;
    let name = input.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::bad("Missing name"));
    }
    model::validate_fn_name(&name).map_err(|_| ApiError::bad("name must be a valid string"))?;
    let _guard = rt.lock_writes().await;
    let app = db::get_app(rt.store().pool(), &app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    let memory = input.memory.unwrap_or(model::DEFAULT_MEMORY);
    let timeout = input.timeout.unwrap_or(model::DEFAULT_TIMEOUT);
    let idle_timeout = input.idle_timeout.unwrap_or(model::DEFAULT_IDLE_TIMEOUT);
    model::validate_limits(memory, timeout, idle_timeout).map_err(ApiError::bad)?;
    let mut config = Map::new();
    model::merge_config(&mut config, &input.config.unwrap_or_default()).map_err(ApiError::bad)?;
    let mut annotations = Map::new();
    model::merge_annotations(&mut annotations, &input.annotations.unwrap_or_default()).map_err(ApiError::bad)?;
    if let Some(shape) = &input.shape {
        model::validate_shape(shape).map_err(ApiError::bad)?;
    }
    let now = model::now();
    let row = FnRow {
        id: model::new_id(),
        app_id,
        name,
        image: input.image.unwrap_or_default(),
        memory: memory as i64,
        timeout: timeout as i64,
        idle_timeout: idle_timeout as i64,
        config: model::map_text(&config),
        annotations: model::map_text(&annotations),
        shape: input.shape.or(app.shape),
        deployment,
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = rt.store().pool().begin().await.map_err(StoreError::from)?;
    match db::insert_fn(&mut tx, &row).await {
        Err(StoreError::Conflict { .. }) => return Err(ApiError::conflict("Fn with specified name already exists")),
        other => other?,
    }
    tx.commit().await.map_err(StoreError::from)?;
    rt.reload().await?;
    Ok(row)
}

/// Applies an update body to a stored fn (also used by deploy).
pub fn merge_fn(row: &FnRow, input: &FnInput) -> ApiResult<FnRow> {
    if input.id.as_deref().is_some_and(|given| given != row.id) {
        return Err(ApiError::bad("Fn ID in path does not match ID in body"));
    }
    if input.name.as_deref().is_some_and(|given| given != row.name) {
        return Err(ApiError::conflict("Could not update - name is immutable"));
    }
    if input.app_id.as_deref().is_some_and(|given| given != row.app_id) {
        return Err(ApiError::conflict("Could not update - app_id is immutable"));
    }
    let mut f = Fn::from(row);
    if let Some(change) = &input.config {
        model::merge_config(&mut f.config, change).map_err(ApiError::bad)?;
    }
    if let Some(change) = &input.annotations {
        model::merge_annotations(&mut f.annotations, change).map_err(ApiError::bad)?;
    }
    let memory = input.memory.unwrap_or(f.memory);
    let timeout = input.timeout.unwrap_or(f.timeout);
    let idle_timeout = input.idle_timeout.unwrap_or(f.idle_timeout);
    model::validate_limits(memory, timeout, idle_timeout).map_err(ApiError::bad)?;
    if let Some(shape) = &input.shape {
        model::validate_shape(shape).map_err(ApiError::bad)?;
    }
    Ok(FnRow {
        image: input.image.clone().unwrap_or_else(|| row.image.clone()),
        memory: memory as i64,
        timeout: timeout as i64,
        idle_timeout: idle_timeout as i64,
        config: model::map_text(&f.config),
        annotations: model::map_text(&f.annotations),
        shape: input.shape.clone().or_else(|| row.shape.clone()),
        updated_at: model::now(),
        ..row.clone()
    })
}

async fn update_fn(State(rt): Rt, Path(id): Path<String>, body: Bytes) -> ApiResult<axum::Json<Fn>> {
    let input: FnInput = parse_body(&body, "Missing new fn")?;
    let updated = update_stored_fn(&rt, &id, &input, None).await?;
    // Fn does not add the endpoint annotations on update.
    Ok(axum::Json(Fn::from(&updated)))
}

/// Merges an update into a stored fn ([`merge_fn`]), writes it and reloads; `deployment`, when
/// given, replaces the code it runs (OCI: a new image).
pub async fn update_stored_fn(rt: &Runtime, id: &str, input: &FnInput, deployment: Option<String>) -> ApiResult<FnRow> {
    let _guard = rt.lock_writes().await;
    let row = db::get_fn(rt.store().pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Fn not found"))?;
    let mut updated = merge_fn(&row, input)?;
    if deployment.is_some() {
        updated.deployment = deployment;
    }
    let mut tx = rt.store().pool().begin().await.map_err(StoreError::from)?;
    db::update_fn(&mut tx, &updated).await?;
    tx.commit().await.map_err(StoreError::from)?;
    rt.reload().await?;
    Ok(updated)
}

async fn delete_fn(State(rt): Rt, Path(id): Path<String>) -> ApiResult<StatusCode> {
    delete_stored_fn(&rt, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a fn with its triggers, reloads, and drops its logs.
pub async fn delete_stored_fn(rt: &Runtime, id: &str) -> ApiResult<()> {
    let _guard = rt.lock_writes().await;
    match db::delete_fn(rt.store().pool(), id).await {
        Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found("Fn not found")),
        other => other?,
    }
    rt.reload().await?;
    rt.logs().remove(id);
    Ok(())
}

// === triggers ===

fn app_name_of(rt: &Runtime, app_id: &str) -> String {
    rt.snapshot()
        .apps
        .get(app_id)
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

async fn list_triggers(
    State(rt): Rt,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<List<Trigger>>> {
    let app_id = query
        .app_id
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad("Missing App ID"))?;
    let page = page(&query)?;
    let rows = db::list_triggers(
        rt.store().pool(),
        &app_id,
        query.fn_id.as_deref().filter(|f| !f.is_empty()),
        &page,
    )
    .await?;
    let base = base_url(&headers);
    let app_name = app_name_of(&rt, &app_id);
    let triggers = rows
        .iter()
        .map(|r| annotate_trigger(Trigger::from(r), &app_name, &base))
        .collect();
    Ok(axum::Json(list_of(triggers, page.limit, |t: &Trigger| &t.name)))
}

async fn get_trigger(State(rt): Rt, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<axum::Json<Trigger>> {
    let row = db::get_trigger(rt.store().pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Trigger not found"))?;
    let app_name = app_name_of(&rt, &row.app_id);
    Ok(axum::Json(annotate_trigger(
        Trigger::from(&row),
        &app_name,
        &base_url(&headers),
    )))
}

/// Validates a trigger's type and source.
pub fn check_trigger(kind: &str, source: &str) -> ApiResult<()> {
    if kind != "http" {
        return Err(ApiError::bad(format!("Invalid Trigger Type: {kind:?} (only \"http\")")));
    }
    if !source.starts_with('/') {
        return Err(ApiError::bad("Invalid Trigger Source: must start with '/'"));
    }
    Ok(())
}

pub fn trigger_conflict(err: StoreError) -> ApiError {
    match err {
        StoreError::Conflict { entity } if entity == "trigger source" => {
            ApiError::conflict("Trigger with the same type and source exists on this app")
        }
        StoreError::Conflict { .. } => ApiError::conflict("Trigger with the same name already exists on this fn"),
        other => other.into(),
    }
}

async fn create_trigger(State(rt): Rt, headers: HeaderMap, body: Bytes) -> ApiResult<axum::Json<Trigger>> {
    let input: TriggerInput = parse_body(&body, "Missing new trigger")?;
    let app_id = input
        .app_id
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad("Missing App ID"))?;
    let fn_id = input
        .fn_id
        .clone()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::bad("Missing Fn ID"))?;
    let name = input
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad("Missing name"))?;
    let kind = input
        .kind
        .clone()
        .ok_or_else(|| ApiError::bad("Missing Trigger Type"))?;
    let source = input
        .source
        .clone()
        .ok_or_else(|| ApiError::bad("Missing Trigger Source"))?;
    check_trigger(&kind, &source)?;
    let mut annotations = Map::new();
    model::merge_annotations(&mut annotations, &input.annotations.clone().unwrap_or_default())
        .map_err(ApiError::bad)?;
    let _guard = rt.lock_writes().await;
    let app = db::get_app(rt.store().pool(), &app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("App not found"))?;
    let f = db::get_fn(rt.store().pool(), &fn_id)
        .await?
        .filter(|f| f.app_id == app_id);
    if f.is_none() {
        return Err(ApiError::not_found("Fn not found"));
    }
    let now = model::now();
    let row = TriggerRow {
        id: model::new_id(),
        app_id,
        fn_id,
        name,
        kind,
        source,
        annotations: model::map_text(&annotations),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = rt.store().pool().begin().await.map_err(StoreError::from)?;
    db::insert_trigger(&mut tx, &row).await.map_err(trigger_conflict)?;
    tx.commit().await.map_err(StoreError::from)?;
    rt.reload().await?;
    Ok(axum::Json(annotate_trigger(
        Trigger::from(&row),
        &app.name,
        &base_url(&headers),
    )))
}

async fn update_trigger(State(rt): Rt, Path(id): Path<String>, body: Bytes) -> ApiResult<axum::Json<Trigger>> {
    let input: TriggerInput = parse_body(&body, "Missing new trigger")?;
    let _guard = rt.lock_writes().await;
    let row = db::get_trigger(rt.store().pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Trigger not found"))?;
    if input.id.as_deref().is_some_and(|given| given != id) {
        return Err(ApiError::bad("Trigger ID in path does not match ID in body"));
    }
    for (given, stored, field) in [
        (&input.name, &row.name, "name"),
        (&input.app_id, &row.app_id, "app_id"),
        (&input.fn_id, &row.fn_id, "fn_id"),
        (&input.kind, &row.kind, "type"),
    ] {
        if given.as_ref().is_some_and(|g| g != stored) {
            return Err(ApiError::conflict(&format!("Could not update - {field} is immutable")));
        }
    }
    let mut trigger = Trigger::from(&row);
    if let Some(source) = &input.source {
        check_trigger(&row.kind, source)?;
        trigger.source = source.clone();
    }
    if let Some(change) = &input.annotations {
        model::merge_annotations(&mut trigger.annotations, change).map_err(ApiError::bad)?;
    }
    let updated = TriggerRow {
        source: trigger.source.clone(),
        annotations: model::map_text(&trigger.annotations),
        updated_at: model::now(),
        ..row
    };
    db::update_trigger(rt.store().pool(), &updated)
        .await
        .map_err(trigger_conflict)?;
    rt.reload().await?;
    Ok(axum::Json(Trigger::from(&updated)))
}

async fn delete_trigger(State(rt): Rt, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let _guard = rt.lock_writes().await;
    match db::delete_trigger(rt.store().pool(), &id).await {
        Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found("Trigger not found")),
        other => other?,
    }
    rt.reload().await?;
    Ok(StatusCode::NO_CONTENT)
}

// === invoke and triggers ===

/// Takes the whole request rather than `HeaderMap` + `Bytes` extractors: the `HeaderMap` extractor
/// clones the map, and the headers are moved into the call instead (hot path).
async fn invoke(State(rt): Rt, Path(fn_id): Path<String>, request: axum::extract::Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut headers = std::mem::take(&mut parts.headers);
    // `/invoke` is a control-plane call: its `Authorization` is the caller's admin credential,
    // never the function's input (the runtime strips the other internal headers).
    headers.remove(http::header::AUTHORIZATION);
    // The `Bytes` extractor, as before, so `DefaultBodyLimit` and its rejection still apply.
    let body = match Bytes::from_request(axum::extract::Request::from_parts(parts, body), &rt).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    if !rt.snapshot().fns.contains_key(&fn_id) {
        return ApiError::not_found("Fn not found").into_response();
    }
    let call_id = model::new_id();
    let detached = headers
        .get("fn-invoke-type")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"detached"));
    let request = InvokeRequest { headers, body };
    if detached {
        rt.spawn_detached(fn_id, call_id.clone(), request);
        let mut response = StatusCode::ACCEPTED.into_response();
        if let Ok(value) = HeaderValue::from_str(&call_id) {
            response.headers_mut().insert("fn-call-id", value);
        }
        return response;
    }
    match rt.invoke_with_id(&fn_id, call_id.clone(), request).await {
        Ok(output) => {
            let mut response = Response::new(Body::from(output.body));
            *response.headers_mut() = output.headers;
            if let Ok(value) = HeaderValue::from_str(&call_id) {
                response.headers_mut().insert("fn-call-id", value);
            }
            response
        }
        Err(err) => ApiError::from_invoke(err, Some(call_id)).into_response(),
    }
}

async fn http_trigger_root(
    state: Rt,
    Path(app): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_trigger(state, app, "/".into(), method, uri, headers, body).await
}

async fn http_trigger(
    state: Rt,
    Path((app, source)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_trigger(state, app, format!("/{source}"), method, uri, headers, body).await
}

async fn run_trigger(
    State(rt): Rt,
    app: String,
    source: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fn_id = {
        let snapshot = rt.snapshot();
        if !snapshot.app_ids_by_name.contains_key(&app) {
            return ApiError::not_found("App not found").into_response();
        }
        match snapshot.triggers.get(&(app.clone(), source)) {
            Some(fn_id) => fn_id.clone(),
            None => return ApiError::not_found("Trigger not found").into_response(),
        }
    };
    let url = format!("{}{}", base_url(&headers), uri);
    let wrapped = http_front::wrap_request(HttpFront::FnTrigger, &method, &url, headers);
    let call_id = model::new_id();
    match rt
        .invoke_with_id(&fn_id, call_id.clone(), InvokeRequest { headers: wrapped, body })
        .await
    {
        Ok(output) => {
            let (status, mut out_headers) =
                http_front::unwrap_response(HttpFront::FnTrigger, output.status, &output.headers);
            if let Ok(value) = HeaderValue::from_str(&call_id) {
                out_headers.insert("fn-call-id", value);
            }
            let mut response = Response::new(Body::from(output.body));
            *response.status_mut() = status;
            *response.headers_mut() = out_headers;
            response
        }
        Err(err) => ApiError::from_invoke(err, Some(call_id)).into_response(),
    }
}

// === admin: logs and status ===

#[derive(Debug, Deserialize)]
struct LogsQuery {
    app: String,
    #[serde(rename = "fn")]
    function: String,
    #[serde(default)]
    follow: bool,
    /// Only the last N stored lines (default: all).
    tail: Option<usize>,
}

fn lookup_fn_id(rt: &Runtime, app: &str, function: &str) -> ApiResult<String> {
    let snapshot = rt.snapshot();
    if !snapshot.app_ids_by_name.contains_key(app) {
        return Err(ApiError::not_found("App not found"));
    }
    snapshot
        .fn_ids_by_name
        .get(&(app.to_string(), function.to_string()))
        .cloned()
        .ok_or_else(|| ApiError::not_found("Fn not found"))
}

async fn logs_handler(State(rt): Rt, Query(query): Query<LogsQuery>) -> ApiResult<Response> {
    let fn_id = lookup_fn_id(&rt, &query.app, &query.function)?;
    // Subscribe before reading the file so no line falls in between.
    let mut live = rt.logs().subscribe();
    let stored = tokio::fs::read_to_string(rt.logs().path(&fn_id))
        .await
        .unwrap_or_default();
    let lines: Vec<&str> = stored.lines().collect();
    let skip = query.tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    let mut head = lines[skip..].join("\n");
    if !head.is_empty() {
        head.push('\n');
    }
    let content_type = [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if !query.follow {
        return Ok((content_type, head).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if !head.is_empty() && tx.send(Bytes::from(head)).await.is_err() {
            return;
        }
        loop {
            match live.recv().await {
                Ok((id, line)) if id == fn_id => {
                    if tx.send(Bytes::from(line)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((content_type, Body::from_stream(stream)).into_response())
}

async fn status_handler(State(rt): Rt) -> axum::Json<Value> {
    let snapshot = rt.snapshot();
    let preparing = rt.preparing_now();
    let mut items: Vec<Value> = snapshot
        .fns
        .values()
        .map(|entry| {
            let pool = entry.pool.as_ref();
            json!({
                "app": entry.app.name,
                "fn": entry.f.name,
                "fn_id": entry.f.id,
                "version": entry.deployment.as_ref().map(|d| d.version.clone()),
                "state": match (&entry.pool, preparing.iter().find(|(a, f, _)| *a == entry.app.name && *f == entry.f.name)) {
                    (_, Some(_)) => "preparing",
                    (Some(_), None) => "ready",
                    (None, None) => "no code",
                },
                "preparing_version": preparing.iter().find(|(a, f, _)| *a == entry.app.name && *f == entry.f.name).map(|(_, _, v)| v.clone()),
                "bundle": entry.deployment.as_ref().and_then(|d| d.bundle.clone()),
                "runtime": entry.deployment.as_ref().map(|d| d.runtime.clone()),
                "instances": pool.map(|p| p.live_count()).unwrap_or(0),
                "idle": pool.map(|p| p.idle_count()).unwrap_or(0),
                "provisioned": pool.map(|p| p.provisioned()).unwrap_or(0),
                "started": pool.map(|p| p.started.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(0),
                "pids": pool.map(|p| p.live_pids.list()).unwrap_or_default(),
            })
        })
        .collect();
    // A first deploy: the function exists only once its environment is ready.
    for (app, function, version) in &preparing {
        if !snapshot.fn_ids_by_name.contains_key(&(app.clone(), function.clone())) {
            items.push(json!({
                "app": app, "fn": function, "fn_id": null, "version": null, "runtime": null,
                "state": "preparing", "preparing_version": version, "bundle": null,
                "instances": 0, "idle": 0, "provisioned": 0, "started": 0, "pids": [],
            }));
        }
    }
    items.sort_by(|a, b| (a["app"].as_str(), a["fn"].as_str()).cmp(&(b["app"].as_str(), b["fn"].as_str())));
    axum::Json(json!({ "items": items, "sandbox": rt.sandbox().status() }))
}
