//! The policy types the gateway hands to [`crate::AuthService::build`] (built by `crate::from_spec`).

use std::time::Duration;

use serde_json::Value;

/// Where the token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLocation {
    /// `tokenHeader` + `tokenAuthScheme` (scheme compared case-insensitively; `None` = raw value).
    Header { name: String, scheme: Option<String> },
    /// `tokenQueryParam`.
    Query { name: String },
}

/// One `verifyClaims` entry: values are compared exactly, as strings.
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

/// A JWS algorithm the gateway may accept. The token's `alg` must be in the policy's list *and*
/// fit the key it names (RSA key for RS*/PS256, P-256 key for ES256); `none` and HMAC do not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    RS256,
    RS384,
    RS512,
    /// Extension (OCI accepts RS* only).
    PS256,
    /// Extension (OCI accepts RS* only).
    ES256,
}

impl SigningAlgorithm {
    /// What `config_from_spec` allows: OCI's RS256/384/512 plus the PS256/ES256 extension.
    pub const DEFAULT_ALLOWED: [SigningAlgorithm; 5] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::RS384,
        SigningAlgorithm::RS512,
        SigningAlgorithm::PS256,
        SigningAlgorithm::ES256,
    ];

    /// Parses a JOSE `alg` value; anything outside the supported set (including `none`, `HS*`) is `None`.
    pub fn from_jose(alg: &str) -> Option<Self> {
        Some(match alg {
            "RS256" => SigningAlgorithm::RS256,
            "RS384" => SigningAlgorithm::RS384,
            "RS512" => SigningAlgorithm::RS512,
            "PS256" => SigningAlgorithm::PS256,
            "ES256" => SigningAlgorithm::ES256,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::RS384 => "RS384",
            SigningAlgorithm::RS512 => "RS512",
            SigningAlgorithm::PS256 => "PS256",
            SigningAlgorithm::ES256 => "ES256",
        }
    }
}

/// `TOKEN_AUTHENTICATION` (legacy `JWT_AUTHENTICATION` normalised into the same shape).
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    pub location: TokenLocation,
    /// Exact `iss` values; one may contain `{tenantid}` (matched against the token's `tid`).
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub verify_claims: Vec<ClaimCheck>,
    pub max_clock_skew: Duration,
    pub is_anonymous_access_allowed: bool,
    pub keys: KeySource,
    /// Per-policy algorithm allow-list (see [`SigningAlgorithm::DEFAULT_ALLOWED`]).
    pub algorithms: Vec<SigningAlgorithm>,
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

impl AuthConfig {
    pub fn is_anonymous_access_allowed(&self) -> bool {
        match self {
            AuthConfig::Jwt(c) => c.is_anonymous_access_allowed,
            AuthConfig::Custom(c) => c.is_anonymous_access_allowed,
        }
    }
}

/// Route-level `authorization` policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authorization {
    #[default]
    AuthenticationOnly,
    Anonymous,
    AnyOf(Vec<String>),
}

/// A policy that cannot be enforced; the message names the field and what is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthConfigError(pub String);
