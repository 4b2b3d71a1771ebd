//! Token authentication and authorization for the gateway.
//!
//! CONTRACT (agreed between the gateway and auth work; extend, do not break):
//! - The gateway converts the spec's authentication policy into [`AuthConfig`] and calls
//!   [`AuthService::build`] when a deployment loads (this is where JWKS are fetched first).
//! - Per request it calls [`Authenticator::authenticate`] with the request head and gets an
//!   [`AuthOutcome`]; then [`authorize`] for the route's authorization policy.
//! - A rejection carries everything the gateway needs to answer (status, `WWW-Authenticate`,
//!   short message for the JSON body, execution-log line). The gateway applies
//!   `validationFailurePolicy` (MODIFY_RESPONSE) itself, since it owns context variables.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{Map, Value};

/// Where the token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLocation {
    /// `tokenHeader` + `tokenAuthScheme` (scheme compared case-insensitively; `None` = raw value).
    Header { name: String, scheme: Option<String> },
    /// `tokenQueryParam`.
    Query { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck {
    pub key: String,
    pub values: Vec<String>,
    pub is_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticKey {
    /// A JWK (`kid`, `kty`, `use`, `key_ops`, `alg`, `n`, `e`, ...), as JSON.
    Jwk(Value),
    /// A PEM `PUBLIC KEY` with its `kid`.
    Pem { kid: String, pem: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    RemoteJwks {
        uri: String,
        ssl_verify_disabled: bool,
        max_cache_duration: Duration,
    },
    StaticKeys(Vec<StaticKey>),
    /// OpenID discovery document URI (`.well-known/openid-configuration`) → `jwks_uri`.
    RemoteDiscovery {
        uri: String,
        ssl_verify_disabled: bool,
        max_cache_duration: Duration,
    },
}

/// `TOKEN_AUTHENTICATION` (legacy `JWT_AUTHENTICATION` normalised into the same shape).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    pub location: TokenLocation,
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub verify_claims: Vec<ClaimCheck>,
    pub max_clock_skew: Duration,
    pub is_anonymous_access_allowed: bool,
    pub keys: KeySource,
}

/// `CUSTOM_AUTHENTICATION`: an authorizer function.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomConfig {
    /// Resolved function id (see `fngate_invoke::FunctionInvoker::resolve`).
    pub function_id: String,
    /// Single-argument (legacy) mode: where the token is read from.
    pub token_location: Option<TokenLocation>,
    /// Multi-argument mode: argument name → context expression (`request.headers[X-Api-Key]`).
    pub parameters: Vec<(String, String)>,
    pub cache_key: Vec<String>,
    pub is_anonymous_access_allowed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    Jwt(JwtConfig),
    Custom(CustomConfig),
}

/// Route-level `authorization` policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authorization {
    #[default]
    AuthenticationOnly,
    Anonymous,
    AnyOf(Vec<String>),
}

/// An authenticated caller: every claim (or authorizer `context` entry) for `${request.auth[...]}`.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub claims: Map<String, Value>,
    /// Whole-token scopes gathered from `scope`, `scp` and `roles` (or the authorizer's `scope`).
    pub scopes: Vec<String>,
}

/// Why a request was refused; the gateway turns it into a response.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    pub status: StatusCode,
    /// Value for the `WWW-Authenticate` header, when one is due.
    pub www_authenticate: Option<String>,
    /// Short, non-leaking text for the JSON error body.
    pub message: String,
    /// OCI execution-log wording (e.g. `JWT token not issued for the configured audience.`).
    pub log_message: String,
}

#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Authenticated(Principal),
    /// No token, and the policy allows anonymous access.
    Anonymous,
    Rejected(AuthRejection),
}

/// The request as authentication sees it.
pub struct AuthRequest<'a> {
    pub head: &'a http::request::Parts,
    /// Body, for `request.body` authorizer parameters (may be empty).
    pub body: &'a [u8],
    /// Host name used in `realm="…"`.
    pub realm: &'a str,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthConfigError(pub String);

/// Shared state for all deployments: JWKS caches keyed by URI, verified-token cache, HTTP client.
pub struct AuthService {
    _private: (),
}

impl AuthService {
    pub fn new(_invoker: Option<Arc<dyn fngate_invoke::FunctionInvoker>>) -> Arc<Self> {
        Arc::new(AuthService { _private: () })
    }

    /// Builds the authenticator for one deployment's policy. Fetches keys for remote sources.
    pub async fn build(self: &Arc<Self>, config: AuthConfig) -> Result<Arc<Authenticator>, AuthConfigError> {
        Ok(Arc::new(Authenticator { config }))
    }
}

/// One deployment's authentication policy, ready for requests.
pub struct Authenticator {
    config: AuthConfig,
}

impl Authenticator {
    pub fn is_anonymous_access_allowed(&self) -> bool {
        match &self.config {
            AuthConfig::Jwt(c) => c.is_anonymous_access_allowed,
            AuthConfig::Custom(c) => c.is_anonymous_access_allowed,
        }
    }

    /// PLACEHOLDER until the auth work lands: fails closed for every request.
    pub async fn authenticate(&self, _request: AuthRequest<'_>) -> AuthOutcome {
        AuthOutcome::Rejected(AuthRejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            www_authenticate: None,
            message: "Internal Server Error".into(),
            log_message: "authentication not implemented".into(),
        })
    }
}

/// Applies a route's authorization policy to the outcome of authentication.
pub fn authorize(outcome: &AuthOutcome, policy: &Authorization) -> Result<(), AuthRejection> {
    match (outcome, policy) {
        (AuthOutcome::Anonymous, Authorization::Anonymous) => Ok(()),
        _ => Err(AuthRejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            www_authenticate: None,
            message: "Internal Server Error".into(),
            log_message: "authorization not implemented".into(),
        }),
    }
}
