//! Admin API for OCI API keys, merged into the admin listener by `fngate up` (control plane:
//! the admin listener's own guard applies):
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/fngate/oci` | the tenancy ([`OciInfo`]) |
//! | GET | `/fngate/oci/keys` | registered keys ([`KeyInfo`]) |
//! | POST | `/fngate/oci/keys` | register a key: [`AddKeyRequest`] → [`KeyInfo`] |
//! | DELETE | `/fngate/oci/keys/{user}/{fingerprint}` | remove a key |

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use fngate_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Shared;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddKeyRequest {
    /// The user OCID the key belongs to (any `ocid1.user.…` string).
    pub user: String,
    /// PEM `PUBLIC KEY`, as `oci setup keys` writes `oci_api_key_public.pem`.
    pub public_key_pem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub tenancy: String,
    pub user: String,
    pub fingerprint: String,
    /// `<tenancy>/<user>/<fingerprint>`, the signature's keyId.
    pub key_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciInfo {
    pub tenancy: String,
}

pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/fngate/oci", get(info))
        .route("/fngate/oci/keys", get(list).post(add))
        .route("/fngate/oci/keys/{user}/{fingerprint}", delete(remove))
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"message": message.into()}))).into_response()
}

fn key_info(shared: &Shared, row: fngate_store::oci::ApiKeyRow) -> KeyInfo {
    KeyInfo {
        key_id: format!("{}/{}/{}", shared.tenancy, row.user_id, row.fingerprint),
        tenancy: shared.tenancy.clone(),
        user: row.user_id,
        fingerprint: row.fingerprint,
        created_at: row.created_at,
    }
}

/// A user OCID is printed into `~/.oci/config` and split out of keyIds on `/`.
fn check_user(user: &str) -> Result<(), String> {
    if !user.starts_with("ocid1.user.") {
        return Err(format!("user {user:?} must be a user OCID (ocid1.user.…)"));
    }
    if user.len() > 255 || !user.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
        return Err(format!(
            "user {user:?} may hold only letters, digits, '.', '-' and '_' (at most 255)"
        ));
    }
    Ok(())
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    Json(OciInfo {
        tenancy: shared.tenancy.clone(),
    })
    .into_response()
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    match fngate_store::oci::list_api_keys(shared.store.pool()).await {
        Ok(rows) => Json(rows.into_iter().map(|r| key_info(&shared, r)).collect::<Vec<_>>()).into_response(),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}

async fn add(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: AddKeyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("request body: {err}")),
    };
    if let Err(message) = check_user(&request.user) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let fingerprint = match crate::signature::parse_public_key(&request.public_key_pem) {
        Ok((_, fingerprint)) => fingerprint,
        Err(message) => return error(StatusCode::BAD_REQUEST, format!("public key: {message}")),
    };
    let row = match fngate_store::oci::insert_api_key(
        shared.store.pool(),
        &request.user,
        &fingerprint,
        request.public_key_pem.trim(),
    )
    .await
    {
        Ok(row) => row,
        Err(StoreError::Conflict { entity }) => {
            return error(StatusCode::CONFLICT, format!("{entity} is already registered"));
        }
        Err(err) => return error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    };
    if let Err(err) = shared.reload_keys().await {
        return error(StatusCode::INTERNAL_SERVER_ERROR, err.message);
    }
    (StatusCode::CREATED, Json(key_info(&shared, row))).into_response()
}

async fn remove(State(shared): State<Arc<Shared>>, Path((user, fingerprint)): Path<(String, String)>) -> Response {
    match fngate_store::oci::delete_api_key(shared.store.pool(), &user, &fingerprint).await {
        Ok(()) => {}
        Err(StoreError::NotFound { entity }) => return error(StatusCode::NOT_FOUND, format!("{entity} not found")),
        Err(err) => return error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
    match shared.reload_keys().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err.message),
    }
}
