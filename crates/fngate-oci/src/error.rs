//! OCI's error answer: `{"code": "...", "message": "..."}` with the status OCI gives that code
//! (`Content/API/References/apierrors.htm`). `opc-request-id` is added to every answer by the
//! router's request-id layer, errors included.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fngate_functions::api::ApiError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type OciResult<T> = Result<T, OciError>;

/// OCI's message for every authentication failure; fngate adds which check failed.
pub const NOT_AUTHENTICATED_MESSAGE: &str =
    "The required information to complete authentication was not provided or was incorrect.";

impl OciError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        OciError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_authenticated(reason: &str) -> Self {
        OciError::new(
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            format!("{NOT_AUTHENTICATED_MESSAGE} ({reason})"),
        )
    }

    /// OCI answers a missing resource and one the caller may not see alike.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        OciError::new(
            StatusCode::NOT_FOUND,
            "NotAuthorizedOrNotFound",
            format!("{what} not found or not authorized"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        OciError::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub fn missing(name: &str) -> Self {
        OciError::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("{name} is required"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        OciError::new(StatusCode::CONFLICT, "IncorrectState", message)
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(target: "fngate::oci", error = %err, "internal error in the OCI API");
        OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "internal server error",
        )
    }

    /// A Fn API error from the shared write paths, as OCI would name it.
    pub fn from_fn(err: ApiError) -> Self {
        let code = match err.status {
            StatusCode::BAD_REQUEST => "InvalidParameter",
            StatusCode::NOT_FOUND => "NotAuthorizedOrNotFound",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        OciError::new(err.status, code, err.message)
    }
}

impl From<fngate_store::StoreError> for OciError {
    fn from(err: fngate_store::StoreError) -> Self {
        OciError::internal(err)
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message}).to_string();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
