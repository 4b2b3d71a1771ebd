//! OCI Functions management (`/20181201` and `/20260325`): applications and functions, which
//! are the Fn API's apps and fns. Writes go through `fngate_functions::api`'s shared write paths
//! (the same validation, write lock and reload as `/v2/apps`); OCI-only fields are recorded in
//! `oci_resources`.
//!
//! The two versions share the resource model but for the code source: 20181201 has top-level
//! `image` / `imageDigest`, 20260325 has `sourceDetails: {"sourceType": "CONTAINER_IMAGE",
//! "image", "imageDigest"}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fngate_functions::api as fn_api;
use fngate_functions::model::{AppInput, FnInput};
use fngate_store::functions::{self as db, AppRow, FnRow};
use fngate_store::oci::{self as oci_db, ResourceRow};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{OciError, OciResult};
use crate::paging::{self, ListParams, Sortable};
use crate::{Shared, check_if_match, etag_of, fields_of, json_answer, listener_url, ocid, parse_object, record_fields};

type St = State<Arc<Shared>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V20181201,
    V20260325,
}

/// Application fields fngate records and returns but does not act on.
const APP_RECORDED: &[&str] = &[
    "subnetIds",
    "networkSecurityGroupIds",
    "traceConfig",
    "logging",
    "freeformTags",
    "definedTags",
    "imagePolicyConfig",
    "securityAttributes",
];
/// Function fields fngate records and returns but does not act on.
const FN_RECORDED: &[&str] = &[
    "provisionedConcurrencyConfig",
    "detachedModeTimeoutInSeconds",
    "failureDestination",
    "successDestination",
    "traceConfig",
    "freeformTags",
    "definedTags",
];

const LIMITS: paging::Limits = paging::Limits {
    default: 10,
    max: 50,
    default_sort: "displayName",
    sort_fields: &["timeCreated", "displayName", "id"],
};

pub fn router(version: ApiVersion) -> Router<Arc<Shared>> {
    Router::new()
        .route("/applications", get(list_apps).post(create_app))
        .route("/applications/{id}", get(get_app).put(update_app).delete(delete_app))
        .route("/functions", get(list_fns).post(create_fn))
        .route("/functions/{id}", get(get_fn).put(update_fn).delete(delete_fn))
        .route("/functions/{id}/actions/invoke", post(crate::invoke::invoke))
        .layer(Extension(version))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    compartment_id: Option<String>,
    application_id: Option<String>,
    limit: Option<String>,
    page: Option<String>,
    lifecycle_state: Option<String>,
    display_name: Option<String>,
    id: Option<String>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

impl ListQuery {
    fn params(&self) -> ListParams<'_> {
        ListParams {
            limit: self.limit.as_deref(),
            page: self.page.as_deref(),
            sort_by: self.sort_by.as_deref(),
            sort_order: self.sort_order.as_deref(),
        }
    }

    /// OCI's filters other than the parent: lifecycle state (everything is ACTIVE), exact
    /// display name, exact id.
    fn keeps(&self, display_name: &str, id: &str) -> bool {
        self.lifecycle_state
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
            && self.display_name.as_deref().is_none_or(|n| n == display_name)
            && self.id.as_deref().is_none_or(|i| i == id)
    }
}

/// A resource as listed: its JSON and the keys it sorts by.
struct Listed {
    json: Value,
    time_created: String,
    display_name: String,
    id: String,
}

impl Sortable for Listed {
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn id(&self) -> &str {
        &self.id
    }
}

fn list_answer(items: Vec<Listed>, query: &ListQuery) -> OciResult<Response> {
    let (page, next) = paging::page(items, &query.params(), &LIMITS)?;
    let body = Value::Array(page.into_iter().map(|i| i.json).collect());
    let mut response = json_answer(StatusCode::OK, &body, None);
    if let Some(next) = next.and_then(|n| http::HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("opc-next-page", next);
    }
    Ok(response)
}

// === applications ===

fn app_meta(shared: &Shared, row: Option<ResourceRow>) -> (String, Map<String, Value>) {
    match row {
        Some(row) => (row.compartment_id, fields_of(&row.fields)),
        None => (shared.tenancy.clone(), Map::new()),
    }
}

fn app_json(app: &AppRow, compartment: &str, fields: &Map<String, Value>, summary: bool) -> (Value, String) {
    let config: Map<String, Value> = serde_json::from_str(&app.config).unwrap_or_default();
    let mut out = json!({
        "id": ocid::of_fn_id(ocid::APP, &app.id),
        "compartmentId": compartment,
        "displayName": app.name,
        "lifecycleState": "ACTIVE",
        "shape": app.shape.clone().unwrap_or_else(|| "GENERIC_X86".into()),
        "subnetIds": [],
        "freeformTags": {},
        "definedTags": {},
        "timeCreated": app.created_at,
        "timeUpdated": app.updated_at,
    });
    if !summary {
        out["config"] = Value::Object(config);
        if let Some(url) = &app.syslog_url {
            out["syslogUrl"] = Value::String(url.clone());
        }
    }
    for (key, value) in fields {
        out[key] = value.clone();
    }
    let etag = etag_of(&[&app.id, &app.updated_at, &Value::Object(fields.clone()).to_string()]);
    (out, etag)
}

async fn load_app(shared: &Shared, ocid_text: &str) -> OciResult<(AppRow, String, Map<String, Value>)> {
    let not_found = || OciError::not_found(format!("application {ocid_text}"));
    let id = ocid::fn_id(ocid::APP, ocid_text).ok_or_else(not_found)?;
    let row = db::get_app(shared.store.pool(), &id).await?.ok_or_else(not_found)?;
    let meta = oci_db::get_resource(shared.store.pool(), "app", &id).await?;
    let (compartment, fields) = app_meta(shared, meta);
    Ok((row, compartment, fields))
}

async fn list_apps(State(shared): St, Query(query): Query<ListQuery>) -> OciResult<Response> {
    let compartment = query
        .compartment_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OciError::missing("compartmentId"))?;
    let metas: std::collections::HashMap<String, ResourceRow> = oci_db::list_resources(shared.store.pool(), "app")
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let apps = db::load_all(shared.store.pool()).await?.apps;
    let mut items = Vec::new();
    for app in apps {
        let (app_compartment, fields) = app_meta(&shared, metas.get(&app.id).cloned());
        let id = ocid::of_fn_id(ocid::APP, &app.id);
        if app_compartment != compartment || !query.keeps(&app.name, &id) {
            continue;
        }
        let (json, _) = app_json(&app, &app_compartment, &fields, true);
        items.push(Listed {
            json,
            time_created: app.created_at.clone(),
            display_name: app.name.clone(),
            id,
        });
    }
    list_answer(items, &query)
}

async fn get_app(State(shared): St, Path(id): Path<String>) -> OciResult<Response> {
    let (row, compartment, fields) = load_app(&shared, &id).await?;
    let (json, etag) = app_json(&row, &compartment, &fields, false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

/// OCI's `config` is the whole map; Fn merges, so keys left out are sent as `""` (delete).
fn replace_config(current: &str, wanted: &Value) -> OciResult<Map<String, Value>> {
    let Value::Object(wanted) = wanted else {
        return Err(OciError::invalid("config must be an object of strings"));
    };
    let current: Map<String, Value> = serde_json::from_str(current).unwrap_or_default();
    let mut change = wanted.clone();
    for key in current.keys() {
        if !wanted.contains_key(key) {
            change.insert(key.clone(), Value::String(String::new()));
        }
    }
    Ok(change)
}

fn config_input(body: &Map<String, Value>) -> OciResult<Option<Map<String, Value>>> {
    match body.get("config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(OciError::invalid("config must be an object of strings")),
    }
}

async fn create_app(State(shared): St, body: Bytes) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let compartment = crate::required_str(&body, "compartmentId")?.to_string();
    let name = crate::required_str(&body, "displayName")?.to_string();
    let input = AppInput {
        name: Some(name),
        config: config_input(&body)?,
        syslog_url: crate::optional_str(&body, "syslogUrl")?.map(str::to_string),
        shape: crate::optional_str(&body, "shape")?.map(str::to_string),
        ..AppInput::default()
    };
    let row = fn_api::new_app_row(input).map_err(OciError::from_fn)?;
    let mut fields = Map::new();
    record_fields(&mut fields, &body, APP_RECORDED);
    fn_api::store_new_app(&shared.runtime, &row)
        .await
        .map_err(OciError::from_fn)?;
    put_meta(&shared, "app", &row.id, &compartment, &fields).await?;
    let (json, etag) = app_json(&row, &compartment, &fields, false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn put_meta(
    shared: &Shared,
    kind: &str,
    id: &str,
    compartment: &str,
    fields: &Map<String, Value>,
) -> OciResult<()> {
    oci_db::put_resource(
        shared.store.pool(),
        &ResourceRow {
            kind: kind.into(),
            id: id.into(),
            compartment_id: compartment.into(),
            display_name: None,
            gateway_id: None,
            fields: Value::Object(fields.clone()).to_string(),
        },
    )
    .await?;
    Ok(())
}

async fn update_app(State(shared): St, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let (row, compartment, mut fields) = load_app(&shared, &id).await?;
    let (_, etag) = app_json(&row, &compartment, &fields, false);
    check_if_match(&headers, &etag)?;
    let config = match body.get("config") {
        None | Some(Value::Null) => None,
        Some(wanted) => Some(replace_config(&row.config, wanted)?),
    };
    let input = AppInput {
        config,
        syslog_url: crate::optional_str(&body, "syslogUrl")?.map(str::to_string),
        ..AppInput::default()
    };
    record_fields(&mut fields, &body, APP_RECORDED);
    // Always through the Fn write path, so `timeUpdated` (and the etag) moves with every change.
    let updated = fn_api::update_stored_app(&shared.runtime, &row.id, input)
        .await
        .map_err(OciError::from_fn)?;
    put_meta(&shared, "app", &row.id, &compartment, &fields).await?;
    let (json, etag) = app_json(&updated, &compartment, &fields, false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn delete_app(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> OciResult<Response> {
    let (row, compartment, fields) = load_app(&shared, &id).await?;
    let (_, etag) = app_json(&row, &compartment, &fields, false);
    check_if_match(&headers, &etag)?;
    // OCI refuses to delete an application that still has functions (Fn would cascade).
    let has_fns = shared.runtime.snapshot().fns.values().any(|e| e.app.id == row.id);
    if has_fns {
        return Err(OciError::conflict(format!(
            "application {id} still has functions; delete them first"
        )));
    }
    fn_api::delete_stored_app(&shared.runtime, &row.id)
        .await
        .map_err(OciError::from_fn)?;
    oci_db::delete_resource(shared.store.pool(), "app", &row.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// === functions ===

struct FnView {
    row: FnRow,
    compartment: String,
    fields: Map<String, Value>,
    digest: Option<String>,
}

async fn fn_view(
    shared: &Shared,
    row: FnRow,
    app_compartments: Option<&std::collections::HashMap<String, String>>,
) -> OciResult<FnView> {
    let compartment = match app_compartments {
        Some(map) => map.get(&row.app_id).cloned().unwrap_or_else(|| shared.tenancy.clone()),
        None => oci_db::get_resource(shared.store.pool(), "app", &row.app_id)
            .await?
            .map(|r| r.compartment_id)
            .unwrap_or_else(|| shared.tenancy.clone()),
    };
    let fields = oci_db::get_resource(shared.store.pool(), "fn", &row.id)
        .await?
        .map(|r| fields_of(&r.fields))
        .unwrap_or_default();
    let digest = shared.images.digest_of_fn(&shared.runtime, &row.id).await;
    Ok(FnView {
        row,
        compartment,
        fields,
        digest,
    })
}

fn fn_json(view: &FnView, version: ApiVersion, endpoint: &str, summary: bool) -> (Value, String) {
    let row = &view.row;
    let mut out = json!({
        "id": ocid::of_fn_id(ocid::FUNCTION, &row.id),
        "displayName": row.name,
        "lifecycleState": "ACTIVE",
        "applicationId": ocid::of_fn_id(ocid::APP, &row.app_id),
        "compartmentId": view.compartment,
        "shape": row.shape.clone().unwrap_or_else(|| "GENERIC_X86".into()),
        "memoryInMBs": row.memory,
        "timeoutInSeconds": row.timeout,
        "invokeEndpoint": endpoint,
        "freeformTags": {},
        "definedTags": {},
        "timeCreated": row.created_at,
        "timeUpdated": row.updated_at,
    });
    match version {
        ApiVersion::V20181201 => {
            out["image"] = Value::String(row.image.clone());
            if let Some(digest) = &view.digest {
                out["imageDigest"] = Value::String(digest.clone());
            }
        }
        ApiVersion::V20260325 => {
            let mut source = json!({"sourceType": "CONTAINER_IMAGE", "image": row.image});
            if let Some(digest) = &view.digest {
                source["imageDigest"] = Value::String(digest.clone());
            }
            out["sourceDetails"] = source;
        }
    }
    if !summary {
        out["config"] = serde_json::from_str(&row.config).unwrap_or_else(|_| json!({}));
    }
    for (key, value) in &view.fields {
        out[key] = value.clone();
    }
    let etag = etag_of(&[
        &row.id,
        &row.updated_at,
        &Value::Object(view.fields.clone()).to_string(),
    ]);
    (out, etag)
}

async fn load_fn(shared: &Shared, ocid_text: &str) -> OciResult<FnView> {
    let not_found = || OciError::not_found(format!("function {ocid_text}"));
    let id = ocid::fn_id(ocid::FUNCTION, ocid_text).ok_or_else(not_found)?;
    let row = db::get_fn(shared.store.pool(), &id).await?.ok_or_else(not_found)?;
    fn_view(shared, row, None).await
}

async fn list_fns(
    State(shared): St,
    Extension(version): Extension<ApiVersion>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> OciResult<Response> {
    let app_ocid = query
        .application_id
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| OciError::missing("applicationId"))?;
    let (app, compartment, _) = load_app(&shared, &app_ocid).await?;
    let compartments = std::collections::HashMap::from([(app.id.clone(), compartment)]);
    let rows = db::load_all(shared.store.pool())
        .await?
        .fns
        .into_iter()
        .filter(|f| f.app_id == app.id);
    let endpoint = listener_url(&headers);
    let mut items = Vec::new();
    for row in rows {
        let id = ocid::of_fn_id(ocid::FUNCTION, &row.id);
        if !query.keeps(&row.name, &id) {
            continue;
        }
        let view = fn_view(&shared, row, Some(&compartments)).await?;
        let (json, _) = fn_json(&view, version, &endpoint, true);
        items.push(Listed {
            json,
            time_created: view.row.created_at.clone(),
            display_name: view.row.name.clone(),
            id,
        });
    }
    list_answer(items, &query)
}

async fn get_fn(
    State(shared): St,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> OciResult<Response> {
    let view = load_fn(&shared, &id).await?;
    let (json, etag) = fn_json(&view, version, &listener_url(&headers), false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

/// The image a create or update body names (`image` or `sourceDetails`, by version).
fn image_of(body: &Map<String, Value>, version: ApiVersion) -> OciResult<Option<(String, Option<String>)>> {
    let (holder, prefix): (&Map<String, Value>, &str) = match version {
        ApiVersion::V20181201 => (body, ""),
        ApiVersion::V20260325 => match body.get("sourceDetails") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(source)) => {
                match source.get("sourceType").and_then(Value::as_str) {
                    Some("CONTAINER_IMAGE") => {}
                    other => {
                        return Err(OciError::invalid(format!(
                            "sourceDetails.sourceType {other:?} is not supported: fngate runs CONTAINER_IMAGE sources naming code it has (see `fngate deploy`)"
                        )));
                    }
                }
                (source, "sourceDetails.")
            }
            Some(_) => return Err(OciError::invalid("sourceDetails must be an object")),
        },
    };
    let image = match holder.get("image") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(OciError::invalid(format!("{prefix}image must be a non-empty string"))),
    };
    let digest = crate::optional_str(holder, "imageDigest")?
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    Ok(Some((image, digest)))
}

fn number(body: &Map<String, Value>, name: &str) -> OciResult<Option<i64>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| OciError::invalid(format!("{name} must be a whole number"))),
    }
}

fn memory_of(body: &Map<String, Value>) -> OciResult<Option<u64>> {
    number(body, "memoryInMBs")?
        .map(|m| u64::try_from(m).map_err(|_| OciError::invalid("memoryInMBs must be positive")))
        .transpose()
}

fn timeout_of(body: &Map<String, Value>) -> OciResult<Option<i32>> {
    number(body, "timeoutInSeconds")?
        .map(|t| i32::try_from(t).map_err(|_| OciError::invalid("timeoutInSeconds is out of range")))
        .transpose()
}

async fn create_fn(
    State(shared): St,
    Extension(version): Extension<ApiVersion>,
    headers: HeaderMap,
    body: Bytes,
) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let app_ocid = crate::required_str(&body, "applicationId")?;
    let name = crate::required_str(&body, "displayName")?.to_string();
    let memory = memory_of(&body)?.ok_or_else(|| OciError::missing("memoryInMBs"))?;
    let (image, digest) = image_of(&body, version)?.ok_or_else(|| {
        OciError::missing(match version {
            ApiVersion::V20181201 => "image",
            ApiVersion::V20260325 => "sourceDetails",
        })
    })?;
    let (app, _, _) = load_app(&shared, app_ocid).await?;
    let resolved = shared
        .images
        .resolve(&shared.runtime, &image, digest.as_deref())
        .await?;
    let input = FnInput {
        name: Some(name),
        app_id: Some(app.id.clone()),
        image: Some(resolved.image.clone()),
        memory: Some(memory),
        timeout: timeout_of(&body)?,
        config: config_input(&body)?,
        ..FnInput::default()
    };
    let mut fields = Map::new();
    record_fields(&mut fields, &body, FN_RECORDED);
    let row = fn_api::create_stored_fn(&shared.runtime, input, Some(resolved.deployment))
        .await
        .map_err(OciError::from_fn)?;
    put_meta(&shared, "fn", &row.id, "", &fields).await?;
    let view = fn_view(&shared, row, None).await?;
    let (json, etag) = fn_json(&view, version, &listener_url(&headers), false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn update_fn(
    State(shared): St,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let view = load_fn(&shared, &id).await?;
    let (_, etag) = fn_json(&view, version, "", false);
    check_if_match(&headers, &etag)?;
    let resolved = match image_of(&body, version)? {
        Some((image, digest)) => Some(
            shared
                .images
                .resolve(&shared.runtime, &image, digest.as_deref())
                .await?,
        ),
        None => None,
    };
    let config = match body.get("config") {
        None | Some(Value::Null) => None,
        Some(wanted) => Some(replace_config(&view.row.config, wanted)?),
    };
    let input = FnInput {
        image: resolved.as_ref().map(|r| r.image.clone()),
        memory: memory_of(&body)?,
        timeout: timeout_of(&body)?,
        config,
        ..FnInput::default()
    };
    let mut fields = view.fields.clone();
    record_fields(&mut fields, &body, FN_RECORDED);
    let row = fn_api::update_stored_fn(&shared.runtime, &view.row.id, &input, resolved.map(|r| r.deployment))
        .await
        .map_err(OciError::from_fn)?;
    put_meta(&shared, "fn", &row.id, "", &fields).await?;
    let view = fn_view(&shared, row, None).await?;
    let (json, etag) = fn_json(&view, version, &listener_url(&headers), false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn delete_fn(
    State(shared): St,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> OciResult<Response> {
    let view = load_fn(&shared, &id).await?;
    let (_, etag) = fn_json(&view, version, "", false);
    check_if_match(&headers, &etag)?;
    fn_api::delete_stored_fn(&shared.runtime, &view.row.id)
        .await
        .map_err(OciError::from_fn)?;
    oci_db::delete_resource(shared.store.pool(), "fn", &view.row.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The Fn id an invoke path names, when the function exists.
pub(crate) fn invoke_target(shared: &Shared, ocid_text: &str) -> Option<String> {
    let id = ocid::fn_id(ocid::FUNCTION, ocid_text)?;
    shared.runtime.snapshot().fns.contains_key(&id).then_some(id)
}
