//! Admin API for deployments (JSON), merged into the admin listener by `fngate up`:
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/fngate/gateway/deployments` | list |
//! | GET | `/fngate/gateway/deployments/{name}` | show (with the original specification text) |
//! | PUT | `/fngate/gateway/deployments/{name}` | create or replace: [`DeployRequest`] |
//! | DELETE | `/fngate/gateway/deployments/{name}` | delete |
//! | POST | `/fngate/gateway/validate` | validate only: [`ValidateRequest`] → [`crate::ValidationReport`] |
//! | GET | `/fngate/gateway/status` | what is being served ([`crate::DeploymentStatus`]) |

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{DeployError, Gateway, Problem, format_of};

/// Body of `PUT /fngate/gateway/deployments/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployRequest {
    pub path_prefix: String,
    /// `json` (default) or `yaml`: the syntax of `specification` when it is text.
    #[serde(default)]
    pub format: Option<String>,
    /// The specification: its original text (JSON or YAML), or a JSON object.
    pub specification: serde_json::Value,
}

/// Body of `POST /fngate/gateway/validate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateRequest {
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    pub specification: serde_json::Value,
}

/// One deployment as the admin API returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInfo {
    pub name: String,
    pub path_prefix: String,
    pub format: String,
    /// Whether the gateway is serving it (a stored deployment that no longer loads is not).
    pub serving: bool,
    pub routes: Vec<crate::RouteStatus>,
    pub created_at: String,
    pub updated_at: String,
    /// The specification text as deployed (only in `show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
}

pub(crate) fn router(gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new()
        .route("/fngate/gateway/deployments", get(list))
        .route("/fngate/gateway/deployments/{name}", get(show).put(put).delete(delete))
        .route("/fngate/gateway/validate", post(validate))
        .route("/fngate/gateway/status", get(status))
        .with_state(gateway)
}

fn spec_text(value: serde_json::Value, format: Option<&str>) -> (String, fngate_spec::SpecFormat) {
    match value {
        serde_json::Value::String(text) => (text, format_of(format.unwrap_or("json"))),
        other => (
            serde_json::to_string_pretty(&other).unwrap_or_default(),
            fngate_spec::SpecFormat::Json,
        ),
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"code": status.as_u16(), "message": message.into()})),
    )
        .into_response()
}

fn deploy_error(err: DeployError) -> Response {
    match err {
        DeployError::Invalid { errors, warnings } => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "code": 400,
                "message": format!("the specification is invalid ({} problem(s))", errors.len()),
                "errors": errors,
                "warnings": warnings,
            })),
        )
            .into_response(),
        DeployError::Conflict(m) => error(StatusCode::CONFLICT, m),
        DeployError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        DeployError::Store(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn info(
    gateway: &Gateway,
    record: fngate_store::deployments::DeploymentRecord,
    with_text: bool,
) -> DeploymentInfo {
    let served = gateway.status().into_iter().find(|d| d.name == record.name);
    DeploymentInfo {
        serving: served.is_some(),
        routes: served.map(|d| d.routes).unwrap_or_default(),
        name: record.name,
        path_prefix: record.path_prefix,
        format: record.spec_format,
        created_at: record.created_at,
        updated_at: record.updated_at,
        specification: with_text.then_some(record.spec_text),
        warnings: Vec::new(),
    }
}

async fn list(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.store().list_deployments().await {
        Ok(records) => {
            let mut out = Vec::new();
            for record in records {
                out.push(info(&gateway, record, false).await);
            }
            Json(out).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn show(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>) -> Response {
    match gateway.store().get_deployment(&name).await {
        Ok(record) => Json(info(&gateway, record, true).await).into_response(),
        Err(fngate_store::StoreError::NotFound { entity }) => {
            error(StatusCode::NOT_FOUND, format!("{entity} not found"))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn put(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>, body: axum::body::Bytes) -> Response {
    let request: DeployRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    let (text, format) = spec_text(request.specification, request.format.as_deref());
    match gateway.deploy(&name, &request.path_prefix, format, &text).await {
        Ok((outcome, report)) => {
            let status = match outcome {
                fngate_store::deployments::PutOutcome::Created => StatusCode::CREATED,
                fngate_store::deployments::PutOutcome::Updated => StatusCode::OK,
            };
            match gateway.store().get_deployment(&name).await {
                Ok(record) => {
                    let mut out = info(&gateway, record, false).await;
                    out.warnings = report.warnings;
                    (status, Json(out)).into_response()
                }
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        Err(e) => deploy_error(e),
    }
}

async fn delete(State(gateway): State<Arc<Gateway>>, Path(name): Path<String>) -> Response {
    match gateway.delete(&name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => deploy_error(e),
    }
}

async fn validate(State(gateway): State<Arc<Gateway>>, body: axum::body::Bytes) -> Response {
    let request: ValidateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    let (text, format) = spec_text(request.specification, request.format.as_deref());
    Json(gateway.validate(request.path_prefix.as_deref(), format, &text).await).into_response()
}

async fn status(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(gateway.status()).into_response()
}
