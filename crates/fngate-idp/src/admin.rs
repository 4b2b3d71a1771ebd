//! Admin API of the IdP (merged into the admin listener; the CLI talks to it):
//!
//! | method | path | body -> answer |
//! |---|---|---|
//! | GET | `/idp` | `Overview` (tenants, API apps, clients with grants and secrets, keys, CA path) |
//! | POST | `/idp/tenants` | `NewTenant` -> `TenantInfo` (201) |
//! | POST | `/idp/apps` | `NewApiApp` -> `ApiAppInfo` (201) |
//! | DELETE | `/idp/apps/{app}` | 204 |
//! | POST | `/idp/clients` | `NewClientApp` -> `CreatedClient` with the secret value (201) |
//! | GET / DELETE | `/idp/clients/{client}` | `ClientAppInfo` / 204 |
//! | POST | `/idp/clients/{client}/grants` | `NewGrants` -> `ClientAppInfo` |
//! | GET / POST | `/idp/clients/{client}/secrets` | `[SecretInfo]` / `NewSecret` -> `CreatedSecret` (201) |
//! | DELETE | `/idp/clients/{client}/secrets/{id}` | 204 |
//! | GET / POST | `/idp/keys`, `/idp/keys/rotate` | `[KeyInfo]` / `RotateKeys` -> `[KeyInfo]` |
//! | GET | `/idp/ca` | `CaInfo` |
//! | PATCH | `/idp/apps/{app}` | `ApiSettings` -> `ApiAppInfo` |
//! | PATCH | `/idp/clients/{client}` | `ClientSettings` -> `ClientAppInfo` |
//! | GET / POST | `/idp/clients/{client}/certificates` | `[CertificateInfo]` / `NewCertificate` -> `CertificateInfo` (201) |
//! | DELETE | `/idp/clients/{client}/certificates/{id or thumbprint}` | 204 |
//! | GET / POST | `/idp/users` | `[UserInfo]` / `NewUser` -> `CreatedUser` (201) |
//! | GET / PATCH / DELETE | `/idp/users/{user}` | `UserInfo` / `UserChanges` -> `UserInfo` / 204 |
//!
//! `{app}` and `{client}` take a name or a client id, `{user}` an object id, user name or UPN. Errors: `{"message": …}` with 400, 404, 409.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::api::*;
use crate::{Idp, IdpError};

pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route("/idp", get(overview))
        .route("/idp/tenants", post(create_tenant))
        .route("/idp/apps", post(create_app))
        .route("/idp/apps/{app}", delete(delete_app).patch(update_app))
        .route("/idp/clients", post(create_client))
        .route(
            "/idp/clients/{client}",
            get(get_client).delete(delete_client).patch(update_client),
        )
        .route(
            "/idp/clients/{client}/certificates",
            get(list_certificates).post(add_certificate),
        )
        .route(
            "/idp/clients/{client}/certificates/{certificate}",
            delete(remove_certificate),
        )
        .route("/idp/users", get(list_users).post(create_user))
        .route(
            "/idp/users/{user}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/idp/clients/{client}/grants", post(grant))
        .route("/idp/clients/{client}/secrets", get(list_secrets).post(add_secret))
        .route("/idp/clients/{client}/secrets/{secret}", delete(remove_secret))
        .route("/idp/keys", get(list_keys))
        .route("/idp/keys/rotate", post(rotate_keys))
        .route("/idp/ca", get(ca))
        .with_state(idp)
}

impl IntoResponse for IdpError {
    fn into_response(self) -> Response {
        let status = match &self {
            IdpError::Invalid(_) => StatusCode::BAD_REQUEST,
            IdpError::NotFound(_) => StatusCode::NOT_FOUND,
            IdpError::Conflict(_) => StatusCode::CONFLICT,
            IdpError::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "idp admin request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "message": format!("{self:#}") }))).into_response()
    }
}

/// A JSON body, or a 400 that says what was wrong with it.
fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, IdpError> {
    payload
        .map(|Json(value)| value)
        .map_err(|err| IdpError::Invalid(format!("request body: {}", err.body_text())))
}

type Answer<T> = Result<T, IdpError>;

async fn overview(State(idp): State<Arc<Idp>>) -> Json<Overview> {
    Json(idp.overview())
}

async fn create_tenant(
    State(idp): State<Arc<Idp>>,
    payload: Result<Json<NewTenant>, JsonRejection>,
) -> Answer<(StatusCode, Json<TenantInfo>)> {
    Ok((StatusCode::CREATED, Json(idp.create_tenant(body(payload)?).await?)))
}

async fn create_app(
    State(idp): State<Arc<Idp>>,
    payload: Result<Json<NewApiApp>, JsonRejection>,
) -> Answer<(StatusCode, Json<ApiAppInfo>)> {
    Ok((StatusCode::CREATED, Json(idp.create_api_app(body(payload)?).await?)))
}

async fn delete_app(State(idp): State<Arc<Idp>>, Path(app): Path<String>) -> Answer<StatusCode> {
    idp.delete_api_app(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_client(
    State(idp): State<Arc<Idp>>,
    payload: Result<Json<NewClientApp>, JsonRejection>,
) -> Answer<(StatusCode, Json<CreatedClient>)> {
    Ok((StatusCode::CREATED, Json(idp.create_client_app(body(payload)?).await?)))
}

async fn get_client(State(idp): State<Arc<Idp>>, Path(client): Path<String>) -> Answer<Json<ClientAppInfo>> {
    Ok(Json(idp.client(&client)?))
}

async fn delete_client(State(idp): State<Arc<Idp>>, Path(client): Path<String>) -> Answer<StatusCode> {
    idp.delete_client_app(&client).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn grant(
    State(idp): State<Arc<Idp>>,
    Path(client): Path<String>,
    payload: Result<Json<NewGrants>, JsonRejection>,
) -> Answer<Json<ClientAppInfo>> {
    Ok(Json(idp.grant_roles(&client, &body(payload)?.grants).await?))
}

async fn list_secrets(State(idp): State<Arc<Idp>>, Path(client): Path<String>) -> Answer<Json<Vec<SecretInfo>>> {
    Ok(Json(idp.client(&client)?.secrets))
}

async fn add_secret(
    State(idp): State<Arc<Idp>>,
    Path(client): Path<String>,
    payload: Result<Json<NewSecret>, JsonRejection>,
) -> Answer<(StatusCode, Json<CreatedSecret>)> {
    Ok((
        StatusCode::CREATED,
        Json(idp.add_secret(&client, body(payload)?, None).await?),
    ))
}

async fn remove_secret(
    State(idp): State<Arc<Idp>>,
    Path((client, secret)): Path<(String, String)>,
) -> Answer<StatusCode> {
    idp.remove_secret(&client, &secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(State(idp): State<Arc<Idp>>) -> Json<Vec<KeyInfo>> {
    Json(idp.list_keys())
}

async fn rotate_keys(
    State(idp): State<Arc<Idp>>,
    payload: Result<Json<RotateKeys>, JsonRejection>,
) -> Answer<Json<Vec<KeyInfo>>> {
    let overlap = body(payload)?.overlap_seconds.map(Duration::from_secs);
    Ok(Json(idp.rotate_keys(overlap).await?))
}

async fn ca(State(idp): State<Arc<Idp>>) -> Json<CaInfo> {
    Json(idp.ca_info())
}

async fn update_app(
    State(idp): State<Arc<Idp>>,
    Path(app): Path<String>,
    payload: Result<Json<ApiSettings>, JsonRejection>,
) -> Answer<Json<ApiAppInfo>> {
    Ok(Json(idp.update_api_app(&app, body(payload)?).await?))
}

async fn update_client(
    State(idp): State<Arc<Idp>>,
    Path(client): Path<String>,
    payload: Result<Json<ClientSettings>, JsonRejection>,
) -> Answer<Json<ClientAppInfo>> {
    Ok(Json(idp.update_client(&client, body(payload)?).await?))
}

async fn list_certificates(
    State(idp): State<Arc<Idp>>,
    Path(client): Path<String>,
) -> Answer<Json<Vec<CertificateInfo>>> {
    Ok(Json(idp.client(&client)?.certificates))
}

async fn add_certificate(
    State(idp): State<Arc<Idp>>,
    Path(client): Path<String>,
    payload: Result<Json<NewCertificate>, JsonRejection>,
) -> Answer<(StatusCode, Json<CertificateInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(idp.add_certificate(&client, body(payload)?).await?),
    ))
}

async fn remove_certificate(
    State(idp): State<Arc<Idp>>,
    Path((client, certificate)): Path<(String, String)>,
) -> Answer<StatusCode> {
    idp.remove_certificate(&client, &certificate).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(State(idp): State<Arc<Idp>>) -> Json<Vec<UserInfo>> {
    Json(idp.overview().users)
}

async fn create_user(
    State(idp): State<Arc<Idp>>,
    payload: Result<Json<NewUser>, JsonRejection>,
) -> Answer<(StatusCode, Json<CreatedUser>)> {
    Ok((StatusCode::CREATED, Json(idp.create_user(body(payload)?).await?)))
}

async fn get_user(State(idp): State<Arc<Idp>>, Path(user): Path<String>) -> Answer<Json<UserInfo>> {
    Ok(Json(idp.user(&user)?))
}

async fn update_user(
    State(idp): State<Arc<Idp>>,
    Path(user): Path<String>,
    payload: Result<Json<UserChanges>, JsonRejection>,
) -> Answer<Json<UserInfo>> {
    Ok(Json(idp.update_user(&user, body(payload)?).await?))
}

async fn delete_user(State(idp): State<Arc<Idp>>, Path(user): Path<String>) -> Answer<StatusCode> {
    idp.delete_user(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}
