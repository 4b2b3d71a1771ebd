//! Token-endpoint errors in Entra's shape: `error`, `error_description` starting `AADSTSnnnn:`
//! and ending with the trace id, correlation id and timestamp, `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> Self {
        EntraError {
            status,
            error,
            code,
            message,
        }
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into \
                 the correct cloud. Check with your subscription administrator, this may happen if there are no active \
                 subscriptions for the tenant."
            ),
        )
    }

    pub fn multi_tenant_endpoint(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9001023,
            format!(
                "The grant type isn't supported over the /common or /consumers endpoints. Please use the \
                 /organizations or tenant-specific endpoint. (The fngate dev IdP needs a tenant id instead of \
                 '{tenant}'.)"
            ),
        )
    }

    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!(
                "The app requested an unsupported grant type '{grant_type}'. The fngate dev IdP supports \
                 'client_credentials'."
            ),
        )
    }

    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen \
                 if the application has not been installed by the administrator of the tenant or consented to by any \
                 user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub fn missing_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."
                .into(),
        )
    }

    pub fn unsupported_assertion_type(assertion_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90011,
            format!(
                "Unexpected client assertion type '{assertion_type}'. The client_assertion_type must be \
                 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."
            ),
        )
    }

    pub fn malformed_assertion() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed: the client_assertion is not a signed JWT (header.payload.signature, \
             base64url JSON)."
                .into(),
        )
    }

    pub fn unknown_certificate(thumbprint: &str, client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. \
                 [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit \
                 `fngate idp client show {client_id}` to see configured keys for app Id '{client_id}'. Register a \
                 certificate with `fngate idp cert add {client_id} CERT.pem`.]"
            ),
        )
    }

    pub fn certificate_out_of_validity(
        thumbprint: &str,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key used is expired or not yet valid., \
                 Thumbprint of key used by client: '{thumbprint}', Found key 'Start={}, End={}']",
                entra_time(not_before),
                entra_time(not_after)
            ),
        )
    }

    pub fn assertion_bad_signature(thumbprint: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match \
                 the expected signature value (RS256 or PS256 with the registered certificate's key)., Thumbprint of \
                 key used by client: '{thumbprint}']"
            ),
        )
    }

    pub fn assertion_wrong_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter: 'iss' and 'sub' must both \
             be the client id."
                .into(),
        )
    }

    pub fn assertion_wrong_audience() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700023,
            "Client assertion audience claim does not match Realm issuer: 'aud' must be this tenant's token endpoint \
             URL."
                .into(),
        )
    }

    pub fn assertion_out_of_time_range(now: time::OffsetDateTime, nbf: Option<i64>, exp: Option<i64>) -> Self {
        let at = |t: Option<i64>| {
            t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .map(entra_time)
                .unwrap_or_else(|| "(none)".into())
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, \
                 expiry time of assertion {}.",
                entra_time(now),
                at(nbf),
                at(exp)
            ),
        )
    }

    pub fn assertion_replayed(jti: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            50013,
            format!(
                "Assertion failed signature validation: the client assertion with jti '{jti}' was already used. Sign a \
                 new assertion (a new jti) for each token request."
            ),
        )
    }

    pub fn wrong_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub fn expired_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Create new keys for your app \
                 with `fngate idp secret add`."
            ),
        )
    }

    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' isn't valid. The scope {scope} is not valid. \
                 Client credential flows must have a single scope value with /.default suffixed to the resource \
                 identifier (application ID URI)."
            ),
        )
    }

    pub fn unknown_resource(resource: &str, tenant_name: &str, tenant_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant_name} \
                 ({tenant_id}). This can happen if the application has not been installed by the administrator of \
                 the tenant or consented to by any user in the tenant. You might have sent your authentication \
                 request to the wrong tenant."
            ),
        )
    }

    pub fn server_error(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50000, message.into())
    }

    /// The response, with `correlation_id` taken from the client's `client-request-id` (as Entra).
    pub fn into_response_for(self, request_headers: &HeaderMap) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = correlation_id(request_headers);
        let timestamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut response = (self.status, json_body(body.to_string())).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            headers.insert("x-ms-request-id", value);
        }
        if let Ok(value) = HeaderValue::from_str(&correlation_id) {
            headers.insert("client-request-id", value);
        }
        response
    }
}

/// Times in messages, as Entra writes its `timestamp`: `2026-12-02 14:03:05Z`.
fn entra_time(at: time::OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

/// The client's `client-request-id` when it is a GUID (MSAL sends one), else a new GUID.
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string()
}

/// `Content-Type: application/json; charset=utf-8` as Entra sends it.
pub fn json_body(body: String) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body)
}

pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
