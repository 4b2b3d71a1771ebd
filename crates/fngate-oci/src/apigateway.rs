//! OCI API Gateway (`/20190501`): gateways, deployments and work requests.
//!
//! Every gateway is served by fngate's one gateway listener (`hostname` is its address). A
//! deployment IS a `fngate gateway` deployment: created, replaced and deleted through
//! [`fngate_gateway::Gateway::deploy`] / `delete`, named by its OCID's unique part (fngate
//! names OCI-made deployments with a lower-case ULID). Deployments made with `fngate gateway
//! deploy` belong to the built-in gateway `ocid1.apigateway.fngate..default`. Changes are applied
//! before the answer, so each one's work request is already `SUCCEEDED`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fngate_gateway::DeployError;
use fngate_store::deployments::DeploymentRecord;
use fngate_store::oci::{self as db, GatewayRow, ResourceRow, WorkRequestRow};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{OciError, OciResult};
use crate::paging::{self, ListParams, Sortable};
use crate::{Shared, check_if_match, etag_of, fields_of, json_answer, ocid, parse_object, record_fields};

type St = State<Arc<Shared>>;

/// The gateway that holds deployments made outside the OCI API (`fngate gateway deploy`).
pub const DEFAULT_GATEWAY: &str = "default";

const GATEWAY_RECORDED: &[&str] = &[
    "subnetId",
    "networkSecurityGroupIds",
    "certificateId",
    "responseCacheDetails",
    "freeformTags",
    "definedTags",
    "caBundles",
    "ipMode",
    "ipv4AddressConfiguration",
    "ipv6AddressConfiguration",
    "locks",
];
const DEPLOYMENT_RECORDED: &[&str] = &["freeformTags", "definedTags", "locks"];

const LIMITS: paging::Limits = paging::Limits {
    default: 100,
    max: 100,
    default_sort: "timeCreated",
    sort_fields: &["timeCreated", "displayName"],
};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/gateways", get(list_gateways).post(create_gateway))
        .route(
            "/gateways/{id}",
            get(get_gateway).put(update_gateway).delete(delete_gateway),
        )
        .route("/deployments", get(list_deployments).post(create_deployment))
        .route(
            "/deployments/{id}",
            get(get_deployment).put(update_deployment).delete(delete_deployment),
        )
        .route("/workRequests", get(list_work_requests))
        .route("/workRequests/{id}", get(get_work_request).delete(cancel_work_request))
        .route("/workRequests/{id}/errors", get(work_request_errors))
        .route("/workRequests/{id}/logs", get(work_request_logs))
}

pub(crate) async fn ensure_default_gateway(shared: &Shared) -> anyhow::Result<()> {
    if db::get_gateway(shared.store.pool(), DEFAULT_GATEWAY).await?.is_none() {
        let now = fngate_functions::model::now();
        let row = GatewayRow {
            id: DEFAULT_GATEWAY.into(),
            compartment_id: shared.tenancy.clone(),
            display_name: "fngate".into(),
            endpoint_type: "PUBLIC".into(),
            fields: "{}".into(),
            created_at: now.clone(),
            updated_at: now,
        };
        match db::insert_gateway(shared.store.pool(), &row).await {
            Ok(()) | Err(fngate_store::StoreError::Conflict { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    compartment_id: Option<String>,
    gateway_id: Option<String>,
    resource_id: Option<String>,
    display_name: Option<String>,
    lifecycle_state: Option<String>,
    limit: Option<String>,
    page: Option<String>,
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

    fn compartment(&self) -> OciResult<&str> {
        self.compartment_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OciError::missing("compartmentId"))
    }
}

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

/// `{"items": [...]}` with `opc-next-page`, as API Gateway's collections are.
fn collection(items: Vec<Listed>, query: &ListQuery) -> OciResult<Response> {
    let (page, next) = paging::page(items, &query.params(), &LIMITS)?;
    let body = json!({"items": page.into_iter().map(|i| i.json).collect::<Vec<_>>()});
    let mut response = json_answer(StatusCode::OK, &body, None);
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("opc-next-page", next);
    }
    Ok(response)
}

/// An accepted change: `202` with `opc-work-request-id` (update and delete answer no body).
fn accepted(work_request: &str) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(value) = HeaderValue::from_str(work_request) {
        response.headers_mut().insert("opc-work-request-id", value);
    }
    response
}

fn with_work_request(mut response: Response, work_request: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(work_request) {
        response.headers_mut().insert("opc-work-request-id", value);
    }
    response
}

/// Records a finished work request for one change; returns its OCID.
async fn record_work(
    shared: &Shared,
    operation: &str,
    compartment: &str,
    entity: &str,
    action: &str,
    resource: &str,
    message: String,
) -> OciResult<String> {
    let now = fngate_functions::model::now();
    let id = ocid::make(ocid::WORK_REQUEST, &ocid::new_unique());
    let entity_uri = format!("/20190501/{entity}s/{resource}");
    let row = WorkRequestRow {
        id: id.clone(),
        operation_type: operation.into(),
        status: "SUCCEEDED".into(),
        compartment_id: compartment.into(),
        resources: json!([{
            "entityType": entity,
            "actionType": action,
            "identifier": resource,
            "entityUri": entity_uri,
        }])
        .to_string(),
        errors: "[]".into(),
        logs: json!([{"message": message, "timestamp": now}]).to_string(),
        time_accepted: now.clone(),
        time_started: Some(now.clone()),
        time_finished: Some(now),
    };
    db::insert_work_request(shared.store.pool(), &row).await?;
    Ok(id)
}

fn later(a: &str, b: &str) -> String {
    if a >= b { a.to_string() } else { b.to_string() }
}

// === gateways ===

fn gateway_hostname(shared: &Shared) -> String {
    let url = &shared.config.gateway_url;
    url.split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_string()
}

fn gateway_json(shared: &Shared, row: &GatewayRow, summary: bool) -> (Value, String) {
    let fields = fields_of(&row.fields);
    let hostname = gateway_hostname(shared);
    let mut out = json!({
        "id": ocid::make(ocid::GATEWAY, &row.id),
        "displayName": row.display_name,
        "compartmentId": row.compartment_id,
        "endpointType": row.endpoint_type,
        "hostname": hostname,
        "lifecycleState": "ACTIVE",
        "freeformTags": {},
        "definedTags": {},
        "timeCreated": row.created_at,
        "timeUpdated": row.updated_at,
    });
    if !summary {
        let ip = hostname.rsplit_once(':').map(|(host, _)| host).unwrap_or(&hostname);
        out["ipAddresses"] = json!([{"ipAddress": ip.trim_matches(['[', ']'])}]);
    }
    for (key, value) in &fields {
        out[key] = value.clone();
    }
    let etag = etag_of(&[&row.id, &row.updated_at, &row.display_name, &row.fields]);
    (out, etag)
}

async fn load_gateway(shared: &Shared, ocid_text: &str) -> OciResult<GatewayRow> {
    let not_found = || OciError::not_found(format!("gateway {ocid_text}"));
    let id = ocid::unique(ocid::GATEWAY, ocid_text).ok_or_else(not_found)?;
    db::get_gateway(shared.store.pool(), id).await?.ok_or_else(not_found)
}

async fn list_gateways(State(shared): St, Query(query): Query<ListQuery>) -> OciResult<Response> {
    let compartment = query.compartment()?;
    let mut items = Vec::new();
    for row in db::list_gateways(shared.store.pool()).await? {
        if row.compartment_id != compartment
            || query.display_name.as_deref().is_some_and(|n| n != row.display_name)
            || query
                .lifecycle_state
                .as_deref()
                .is_some_and(|s| !s.eq_ignore_ascii_case("ACTIVE"))
        {
            continue;
        }
        let (json, _) = gateway_json(&shared, &row, true);
        items.push(Listed {
            json,
            time_created: row.created_at.clone(),
            display_name: row.display_name.clone(),
            id: row.id.clone(),
        });
    }
    collection(items, &query)
}

async fn get_gateway(State(shared): St, Path(id): Path<String>) -> OciResult<Response> {
    let row = load_gateway(&shared, &id).await?;
    let (json, etag) = gateway_json(&shared, &row, false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn create_gateway(State(shared): St, body: Bytes) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let compartment = crate::required_str(&body, "compartmentId")?.to_string();
    let endpoint_type = crate::required_str(&body, "endpointType")?.to_string();
    if endpoint_type != "PUBLIC" && endpoint_type != "PRIVATE" {
        return Err(OciError::invalid(format!(
            "endpointType must be PUBLIC or PRIVATE, got {endpoint_type:?}"
        )));
    }
    let unique = ocid::new_unique();
    let display_name = crate::optional_str(&body, "displayName")?
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("gateway-{unique}"));
    let mut fields = Map::new();
    record_fields(&mut fields, &body, GATEWAY_RECORDED);
    let now = fngate_functions::model::now();
    let row = GatewayRow {
        id: unique,
        compartment_id: compartment.clone(),
        display_name,
        endpoint_type,
        fields: Value::Object(fields).to_string(),
        created_at: now.clone(),
        updated_at: now,
    };
    let _guard = shared.writes.lock().await;
    db::insert_gateway(shared.store.pool(), &row).await?;
    let gateway_ocid = ocid::make(ocid::GATEWAY, &row.id);
    let work = record_work(
        &shared,
        "CREATE_GATEWAY",
        &compartment,
        "gateway",
        "CREATED",
        &gateway_ocid,
        format!(
            "Created gateway {gateway_ocid}, served at {}",
            shared.config.gateway_url
        ),
    )
    .await?;
    let (json, etag) = gateway_json(&shared, &row, false);
    Ok(with_work_request(
        json_answer(StatusCode::OK, &json, Some(&etag)),
        &work,
    ))
}

async fn update_gateway(
    State(shared): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let _guard = shared.writes.lock().await;
    let mut row = load_gateway(&shared, &id).await?;
    let (_, etag) = gateway_json(&shared, &row, false);
    check_if_match(&headers, &etag)?;
    if let Some(name) = crate::optional_str(&body, "displayName")?.filter(|n| !n.is_empty()) {
        row.display_name = name.to_string();
    }
    let mut fields = fields_of(&row.fields);
    record_fields(&mut fields, &body, GATEWAY_RECORDED);
    row.fields = Value::Object(fields).to_string();
    row.updated_at = fngate_functions::model::now();
    db::update_gateway(shared.store.pool(), &row).await?;
    let work = record_work(
        &shared,
        "UPDATE_GATEWAY",
        &row.compartment_id,
        "gateway",
        "UPDATED",
        &id,
        format!("Updated gateway {id}"),
    )
    .await?;
    Ok(accepted(&work))
}

async fn delete_gateway(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> OciResult<Response> {
    let _guard = shared.writes.lock().await;
    let row = load_gateway(&shared, &id).await?;
    let (_, etag) = gateway_json(&shared, &row, false);
    check_if_match(&headers, &etag)?;
    if row.id == DEFAULT_GATEWAY {
        return Err(OciError::conflict(
            "the default gateway holds the deployments made with `fngate gateway deploy` and cannot be deleted",
        ));
    }
    let metas = deployment_metas(&shared).await?;
    let records = shared.store.list_deployments().await?;
    if records.iter().any(|r| gateway_of(metas.get(&r.name)) == row.id) {
        return Err(OciError::conflict(format!(
            "gateway {id} still has deployments; delete them first"
        )));
    }
    db::delete_gateway(shared.store.pool(), &row.id).await?;
    let work = record_work(
        &shared,
        "DELETE_GATEWAY",
        &row.compartment_id,
        "gateway",
        "DELETED",
        &id,
        format!("Deleted gateway {id}"),
    )
    .await?;
    Ok(accepted(&work))
}

// === deployments ===

async fn deployment_metas(shared: &Shared) -> OciResult<HashMap<String, ResourceRow>> {
    Ok(db::list_resources(shared.store.pool(), "deployment")
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect())
}

fn gateway_of(meta: Option<&ResourceRow>) -> String {
    meta.and_then(|m| m.gateway_id.clone())
        .unwrap_or_else(|| DEFAULT_GATEWAY.to_string())
}

fn deployment_json(
    shared: &Shared,
    record: &DeploymentRecord,
    meta: Option<&ResourceRow>,
    summary: bool,
) -> (Value, String) {
    let fields = meta.map(|m| fields_of(&m.fields)).unwrap_or_default();
    let serving = shared.gateway.status().iter().any(|d| d.name == record.name);
    let updated = match fields.get("timeUpdated").and_then(Value::as_str) {
        Some(meta_time) => later(meta_time, &record.updated_at),
        None => record.updated_at.clone(),
    };
    let mut out = json!({
        "id": ocid::make(ocid::DEPLOYMENT, &record.name),
        "gatewayId": ocid::make(ocid::GATEWAY, &gateway_of(meta)),
        "displayName": meta.and_then(|m| m.display_name.clone()).unwrap_or_else(|| record.name.clone()),
        "compartmentId": meta.map(|m| m.compartment_id.clone()).unwrap_or_else(|| shared.tenancy.clone()),
        "pathPrefix": record.path_prefix,
        "endpoint": format!("{}{}", shared.config.gateway_url.trim_end_matches('/'), record.path_prefix),
        "lifecycleState": if serving { "ACTIVE" } else { "FAILED" },
        "freeformTags": {},
        "definedTags": {},
        "timeCreated": record.created_at,
    });
    for (key, value) in &fields {
        out[key] = value.clone();
    }
    out["timeUpdated"] = Value::String(updated.clone());
    if !serving {
        out["lifecycleDetails"] =
            Value::String("the stored specification no longer loads (the server log says why); update it".into());
    }
    if !summary {
        out["specification"] = specification_value(record);
    }
    let etag = etag_of(&[
        &record.name,
        &updated,
        &record.spec_text,
        &Value::Object(fields).to_string(),
    ]);
    (out, etag)
}

/// The stored specification as JSON (a YAML one is converted).
fn specification_value(record: &DeploymentRecord) -> Value {
    let parsed = if record.spec_format == "yaml" {
        serde_yaml_ng::from_str::<Value>(&record.spec_text).ok()
    } else {
        serde_json::from_str::<Value>(&record.spec_text).ok()
    };
    parsed.unwrap_or_else(|| json!({}))
}

async fn load_deployment(shared: &Shared, ocid_text: &str) -> OciResult<(DeploymentRecord, Option<ResourceRow>)> {
    let not_found = || OciError::not_found(format!("deployment {ocid_text}"));
    let name = ocid::unique(ocid::DEPLOYMENT, ocid_text).ok_or_else(not_found)?;
    let record = match shared.store.get_deployment(name).await {
        Ok(record) => record,
        Err(fngate_store::StoreError::NotFound { .. }) => return Err(not_found()),
        Err(err) => return Err(err.into()),
    };
    let meta = db::get_resource(shared.store.pool(), "deployment", name).await?;
    Ok((record, meta))
}

fn deploy_error(err: DeployError) -> OciError {
    match err {
        DeployError::Invalid { errors, .. } => {
            let problems: Vec<String> = errors.iter().map(|p| format!("specification.{p}")).collect();
            OciError::invalid(format!("the specification is invalid: {}", problems.join("; ")))
        }
        DeployError::Conflict(message) => OciError::new(StatusCode::CONFLICT, "Conflict", message),
        DeployError::NotFound(message) => OciError::not_found(message),
        DeployError::Store(err) => OciError::internal(err),
    }
}

fn spec_text(body: &Map<String, Value>) -> OciResult<Option<String>> {
    match body.get("specification") {
        None | Some(Value::Null) => Ok(None),
        Some(spec @ Value::Object(_)) => serde_json::to_string_pretty(spec).map(Some).map_err(OciError::internal),
        Some(_) => Err(OciError::invalid(
            "specification must be an object (an ApiSpecification)",
        )),
    }
}

async fn list_deployments(State(shared): St, Query(query): Query<ListQuery>) -> OciResult<Response> {
    let compartment = query.compartment()?;
    let gateway = query
        .gateway_id
        .as_deref()
        .map(|g| ocid::unique(ocid::GATEWAY, g).unwrap_or_default().to_string());
    let metas = deployment_metas(&shared).await?;
    let mut items = Vec::new();
    for record in shared.store.list_deployments().await? {
        let meta = metas.get(&record.name);
        let (json, _) = deployment_json(&shared, &record, meta, true);
        let matches = json["compartmentId"] == compartment
            && gateway.as_deref().is_none_or(|g| gateway_of(meta) == g)
            && query.display_name.as_deref().is_none_or(|n| json["displayName"] == n)
            && query
                .lifecycle_state
                .as_deref()
                .is_none_or(|s| json["lifecycleState"] == s);
        if !matches {
            continue;
        }
        items.push(Listed {
            display_name: json["displayName"].as_str().unwrap_or_default().to_string(),
            time_created: record.created_at.clone(),
            id: record.name.clone(),
            json,
        });
    }
    collection(items, &query)
}

async fn get_deployment(State(shared): St, Path(id): Path<String>) -> OciResult<Response> {
    let (record, meta) = load_deployment(&shared, &id).await?;
    let (json, etag) = deployment_json(&shared, &record, meta.as_ref(), false);
    Ok(json_answer(StatusCode::OK, &json, Some(&etag)))
}

async fn create_deployment(State(shared): St, body: Bytes) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let gateway_ocid = crate::required_str(&body, "gatewayId")?;
    let compartment = crate::required_str(&body, "compartmentId")?.to_string();
    let path_prefix = crate::required_str(&body, "pathPrefix")?.to_string();
    let text = spec_text(&body)?.ok_or_else(|| OciError::missing("specification"))?;
    let display_name = crate::optional_str(&body, "displayName")?
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let _guard = shared.writes.lock().await;
    let gateway = load_gateway(&shared, gateway_ocid).await?;
    let name = ocid::new_unique();
    shared
        .gateway
        .deploy(&name, &path_prefix, fngate_spec::SpecFormat::Json, &text)
        .await
        .map_err(deploy_error)?;
    let mut fields = Map::new();
    record_fields(&mut fields, &body, DEPLOYMENT_RECORDED);
    let deployment_ocid = ocid::make(ocid::DEPLOYMENT, &name);
    let meta = ResourceRow {
        kind: "deployment".into(),
        id: name.clone(),
        compartment_id: compartment.clone(),
        display_name: Some(display_name.unwrap_or_else(|| format!("deployment-{name}"))),
        gateway_id: Some(gateway.id.clone()),
        fields: Value::Object(fields).to_string(),
    };
    db::put_resource(shared.store.pool(), &meta).await?;
    let work = record_work(
        &shared,
        "CREATE_DEPLOYMENT",
        &compartment,
        "deployment",
        "CREATED",
        &deployment_ocid,
        format!(
            "Created deployment {deployment_ocid} at {}{path_prefix}",
            shared.config.gateway_url
        ),
    )
    .await?;
    let record = shared.store.get_deployment(&name).await?;
    let (json, etag) = deployment_json(&shared, &record, Some(&meta), false);
    Ok(with_work_request(
        json_answer(StatusCode::OK, &json, Some(&etag)),
        &work,
    ))
}

async fn update_deployment(
    State(shared): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> OciResult<Response> {
    let body = parse_object(&body)?;
    let _guard = shared.writes.lock().await;
    let (record, meta) = load_deployment(&shared, &id).await?;
    let (current, etag) = deployment_json(&shared, &record, meta.as_ref(), false);
    check_if_match(&headers, &etag)?;
    if let Some(text) = spec_text(&body)? {
        shared
            .gateway
            .deploy(&record.name, &record.path_prefix, fngate_spec::SpecFormat::Json, &text)
            .await
            .map_err(deploy_error)?;
    }
    let mut fields = meta.as_ref().map(|m| fields_of(&m.fields)).unwrap_or_default();
    record_fields(&mut fields, &body, DEPLOYMENT_RECORDED);
    fields.insert("timeUpdated".into(), Value::String(fngate_functions::model::now()));
    let display_name = crate::optional_str(&body, "displayName")?
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| current["displayName"].as_str().map(str::to_string));
    let compartment = current["compartmentId"].as_str().unwrap_or(&shared.tenancy).to_string();
    db::put_resource(
        shared.store.pool(),
        &ResourceRow {
            kind: "deployment".into(),
            id: record.name.clone(),
            compartment_id: compartment.clone(),
            display_name,
            gateway_id: Some(gateway_of(meta.as_ref())),
            fields: Value::Object(fields).to_string(),
        },
    )
    .await?;
    let work = record_work(
        &shared,
        "UPDATE_DEPLOYMENT",
        &compartment,
        "deployment",
        "UPDATED",
        &id,
        format!("Updated deployment {id}"),
    )
    .await?;
    Ok(accepted(&work))
}

async fn delete_deployment(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> OciResult<Response> {
    let _guard = shared.writes.lock().await;
    let (record, meta) = load_deployment(&shared, &id).await?;
    let (current, etag) = deployment_json(&shared, &record, meta.as_ref(), false);
    check_if_match(&headers, &etag)?;
    shared.gateway.delete(&record.name).await.map_err(deploy_error)?;
    db::delete_resource(shared.store.pool(), "deployment", &record.name).await?;
    let compartment = current["compartmentId"].as_str().unwrap_or(&shared.tenancy).to_string();
    let work = record_work(
        &shared,
        "DELETE_DEPLOYMENT",
        &compartment,
        "deployment",
        "DELETED",
        &id,
        format!("Deleted deployment {id}"),
    )
    .await?;
    Ok(accepted(&work))
}

// === work requests ===

fn work_request_json(row: &WorkRequestRow, summary: bool) -> Value {
    let resources: Value = serde_json::from_str(&row.resources).unwrap_or_else(|_| json!([]));
    let mut out = json!({
        "operationType": row.operation_type,
        "status": row.status,
        "compartmentId": row.compartment_id,
        "resources": resources,
        "percentComplete": 100.0,
        "timeAccepted": row.time_accepted,
        "timeStarted": row.time_started,
        "timeFinished": row.time_finished,
    });
    if summary {
        out["workRequestId"] = Value::String(row.id.clone());
    } else {
        out["id"] = Value::String(row.id.clone());
    }
    out
}

async fn load_work_request(shared: &Shared, id: &str) -> OciResult<WorkRequestRow> {
    db::get_work_request(shared.store.pool(), id)
        .await?
        .ok_or_else(|| OciError::not_found(format!("work request {id}")))
}

async fn get_work_request(State(shared): St, Path(id): Path<String>) -> OciResult<Response> {
    let row = load_work_request(&shared, &id).await?;
    let mut response = json_answer(StatusCode::OK, &work_request_json(&row, false), None);
    // OCI sends a retry hint while a request runs; these are always finished.
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from_static("0"));
    Ok(response)
}

async fn list_work_requests(State(shared): St, Query(query): Query<ListQuery>) -> OciResult<Response> {
    let compartment = query.compartment()?;
    let mut items = Vec::new();
    for row in db::list_work_requests(shared.store.pool()).await? {
        let json = work_request_json(&row, true);
        let about = query.resource_id.as_deref().is_none_or(|resource| {
            json["resources"]
                .as_array()
                .is_some_and(|all| all.iter().any(|r| r["identifier"] == resource))
        });
        if row.compartment_id != compartment || !about {
            continue;
        }
        items.push(Listed {
            json,
            time_created: row.time_accepted.clone(),
            display_name: row.id.clone(),
            id: row.id.clone(),
        });
    }
    collection(items, &query)
}

async fn cancel_work_request(State(shared): St, Path(id): Path<String>) -> OciResult<Response> {
    load_work_request(&shared, &id).await?;
    Err(OciError::conflict(format!(
        "work request {id} has finished and cannot be canceled"
    )))
}

async fn work_request_errors(
    State(shared): St,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> OciResult<Response> {
    let row = load_work_request(&shared, &id).await?;
    entries(&row.errors, &query)
}

async fn work_request_logs(
    State(shared): St,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> OciResult<Response> {
    let row = load_work_request(&shared, &id).await?;
    entries(&row.logs, &query)
}

fn entries(stored: &str, query: &ListQuery) -> OciResult<Response> {
    let all: Vec<Value> = serde_json::from_str(stored).unwrap_or_default();
    let items = all
        .into_iter()
        .enumerate()
        .map(|(i, entry)| Listed {
            time_created: entry["timestamp"].as_str().unwrap_or_default().to_string(),
            display_name: String::new(),
            id: format!("{i:08}"),
            json: entry,
        })
        .collect();
    let params = ListParams {
        sort_order: query.sort_order.as_deref().or(Some("ASC")),
        ..query.params()
    };
    let (page, next) = paging::page(items, &params, &LIMITS)?;
    let body = json!({"items": page.into_iter().map(|i| i.json).collect::<Vec<_>>()});
    let mut response = json_answer(StatusCode::OK, &body, None);
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("opc-next-page", next);
    }
    Ok(response)
}
