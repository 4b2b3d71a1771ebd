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
                 'client_credentials', 'authorization_code', 'refresh_token' and \
                 'urn:ietf:params:oauth:grant-type:device_code'."
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

    // ---- sign-in flows (authorize, code, refresh, device code) ----------------------------

    pub fn invalid_user_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' isn't valid. The scope {scope} is not valid. \
                 (fngate has no Microsoft Graph: ask for openid, profile, email, offline_access and scopes of \
                 registered API apps, RESOURCE/scope.)"
            ),
        )
    }

    pub fn several_resources(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            28000,
            format!(
                "Provided value for the input parameter scope is not valid because it contains more than one \
                 resource. Scope {scope} is not valid."
            ),
        )
    }

    pub fn scope_not_on_resource(scope: &str, resource: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            650053,
            format!("The application asked for scope '{scope}' that doesn't exist on the resource '{resource}'."),
        )
    }

    pub fn redirect_uri_mismatch(uri: &str, client_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for \
                 the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to \
                 your application (`fngate idp client show {client_id}`)."
            ),
        )
    }

    pub fn unsupported_response_type(response_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            700054,
            format!(
                "response_type '{response_type}' is not enabled for the application. The fngate dev IdP supports \
                 response_type=code."
            ),
        )
    }

    pub fn unsupported_response_mode(mode: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The response_mode '{mode}' is not supported (query, fragment or form_post)."),
        )
    }

    pub fn pkce_required() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.".into(),
        )
    }

    pub fn bad_challenge_method(method: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50149,
            format!("Invalid Code_Challenge_method parameter '{method}'. The fngate dev IdP takes S256 only."),
        )
    }

    pub fn bad_challenge_size() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter (43 to 128 characters of base64url).".into(),
        )
    }

    pub fn not_assigned_client(client_id: &str, client_name: &str, api_id: &str, api_name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            501051,
            format!(
                "Application '{client_id}'({client_name}) is not assigned to a role for the application \
                 '{api_id}'({api_name})."
            ),
        )
    }

    pub fn not_assigned_user(upn: &str, api_id: &str, api_name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            501051,
            format!(
                "User account '{upn}' is not assigned to a role for the application '{api_id}'({api_name}). Assign \
                 it with `fngate idp user update {upn} --assign {api_name}`."
            ),
        )
    }

    pub fn consent_declined() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "access_denied",
            65004,
            "User declined to consent to access the app.".into(),
        )
    }

    pub fn code_redeemed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing \
             refresh token."
                .into(),
        )
    }

    pub fn code_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive \
             authorization request for this user and resource."
                .into(),
        )
    }

    pub fn bad_grant(what: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            format!("Provided grant is invalid or malformed: {what}"),
        )
    }

    pub fn pkce_mismatch() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.".into(),
        )
    }

    pub fn reply_address_mismatch() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            500112,
            "The reply address does not match the reply address provided when requesting Authorization code.".into(),
        )
    }

    pub fn confidential_needs_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        )
    }

    pub fn spa_needs_origin() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin \
             requests."
                .into(),
        )
    }

    pub fn refresh_expired(spa: bool) -> Self {
        if spa {
            Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                700084,
                "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited \
                 lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must \
                 be sent by the SPA to the sign in page."
                    .into(),
            )
        } else {
            Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity.".into(),
            )
        }
    }

    pub fn refresh_redeemed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the refresh token was already redeemed (single-page-app refresh \
             tokens are single use); every token of this sign-in is now revoked."
                .into(),
        )
    }

    pub fn consent_required(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            65001,
            format!(
                "The user or administrator has not consented to use the application for the scope '{scope}'. Send \
                 an interactive authorization request for this user and resource."
            ),
        )
    }

    pub fn authorization_pending() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".into(),
        )
    }

    pub fn device_code_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "expired_token",
            70019,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired."
                .into(),
        )
    }

    pub fn authorization_declined() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_declined",
            70000,
            "The end user denied the authorization request.".into(),
        )
    }

    pub fn not_public_client(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            format!(
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. \
                 (Client {client_id} is not a public client: `fngate idp client update {client_id} --public-client \
                 true` allows the device code flow without a credential.)"
            ),
        )
    }

    pub fn post_only(method: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900561,
            format!("The endpoint only accepts POST, OPTIONS requests. Received a {method} request."),
        )
    }

    pub fn flow_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50089,
            "Authentication failed due to flow token expired. Start the sign-in again from the application.".into(),
        )
    }

    pub fn login_required() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "login_required",
            50058,
            "A silent sign-in request was sent but no user is signed in (the fngate dev IdP keeps no browser \
             session: prompt=none always needs an interactive sign-in)."
                .into(),
        )
    }

    /// `error_description` as Entra writes it in a redirect (no trace lines).
    pub fn description(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }

    pub fn bad_password() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.".into(),
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
