//! Authentication policies: `TOKEN_AUTHENTICATION`, legacy `JWT_AUTHENTICATION`,
//! `CUSTOM_AUTHENTICATION`, their key sources and failure policies, and route authorization.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DynamicSelectionKey, HeaderTransformationPolicy, SelectionSourcePolicy};
use crate::serde_support::tagged_deserialize;

/// `AuthenticationPolicy`, discriminated by `type`.
///
/// A legacy `JWT_AUTHENTICATION` policy is kept as written (so serialising the spec gives the
/// user's JSON back); call [`AuthenticationPolicy::normalized`] to get Oracle's
/// `TOKEN_AUTHENTICATION` equivalent, which is what the gateway enforces.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum AuthenticationPolicy {
    /// `TOKEN_AUTHENTICATION` (current JWT policy).
    #[serde(rename = "TOKEN_AUTHENTICATION")]
    Token(TokenAuthenticationPolicy),
    /// `JWT_AUTHENTICATION` (legacy JWT policy).
    #[serde(rename = "JWT_AUTHENTICATION")]
    Jwt(JwtAuthenticationPolicy),
    /// `CUSTOM_AUTHENTICATION` (authorizer function).
    #[serde(rename = "CUSTOM_AUTHENTICATION")]
    Custom(CustomAuthenticationPolicy),
}

tagged_deserialize!(AuthenticationPolicy, "type", {
    "TOKEN_AUTHENTICATION" => Token(TokenAuthenticationPolicy),
    "JWT_AUTHENTICATION" => Jwt(JwtAuthenticationPolicy),
    "CUSTOM_AUTHENTICATION" => Custom(CustomAuthenticationPolicy),
});

impl AuthenticationPolicy {
    /// The JSON `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthenticationPolicy::Token(_) => "TOKEN_AUTHENTICATION",
            AuthenticationPolicy::Jwt(_) => "JWT_AUTHENTICATION",
            AuthenticationPolicy::Custom(_) => "CUSTOM_AUTHENTICATION",
        }
    }

    /// `isAnonymousAccessAllowed` (default false).
    pub fn is_anonymous_access_allowed(&self) -> bool {
        match self {
            AuthenticationPolicy::Token(p) => p.is_anonymous_access_allowed,
            AuthenticationPolicy::Jwt(p) => p.is_anonymous_access_allowed,
            AuthenticationPolicy::Custom(p) => p.is_anonymous_access_allowed,
        }
        .unwrap_or(false)
    }

    /// Whether this is the legacy `JWT_AUTHENTICATION` shape.
    pub fn is_legacy_jwt(&self) -> bool {
        matches!(self, AuthenticationPolicy::Jwt(_))
    }

    /// The policy with legacy `JWT_AUTHENTICATION` rewritten as `TOKEN_AUTHENTICATION` (see
    /// [`JwtAuthenticationPolicy::to_token_authentication`]); other policies are returned as is.
    pub fn normalized(&self) -> AuthenticationPolicy {
        match self {
            AuthenticationPolicy::Jwt(jwt) => AuthenticationPolicy::Token(jwt.to_token_authentication()),
            other => other.clone(),
        }
    }

    /// The JWT policy in `TOKEN_AUTHENTICATION` shape (legacy policies normalised), or `None`
    /// for `CUSTOM_AUTHENTICATION`.
    pub fn token_authentication(&self) -> Option<TokenAuthenticationPolicy> {
        match self {
            AuthenticationPolicy::Token(p) => Some(p.clone()),
            AuthenticationPolicy::Jwt(p) => Some(p.to_token_authentication()),
            AuthenticationPolicy::Custom(_) => None,
        }
    }
}

/// `TokenAuthenticationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuthenticationPolicy {
    /// Whether unauthenticated callers may reach `ANONYMOUS` routes (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_anonymous_access_allowed: Option<bool>,
    /// Header carrying the token (exclusive with `tokenQueryParam`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_header: Option<String>,
    /// Query parameter carrying the token (exclusive with `tokenHeader`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_query_param: Option<String>,
    /// Scheme before the token in `tokenHeader` (e.g. `Bearer`); required with `tokenHeader`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_auth_scheme: Option<String>,
    /// Allowed clock skew for `exp`/`nbf`, 0–120 s (default 0).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_clock_skew_in_seconds: Option<f64>,
    /// Where keys come from, plus issuer/audience/claim checks.
    pub validation_policy: TokenValidationPolicy,
    /// What to answer when validation fails (default: 401).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub validation_failure_policy: Option<ValidationFailurePolicy>,
}

/// `TokenAuthenticationValidationPolicy`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum TokenValidationPolicy {
    /// `REMOTE_JWKS`: keys from a JWKS URL.
    #[serde(rename = "REMOTE_JWKS")]
    RemoteJwks(RemoteJwksValidationPolicy),
    /// `STATIC_KEYS`: keys in the spec.
    #[serde(rename = "STATIC_KEYS")]
    StaticKeys(StaticKeysValidationPolicy),
    /// `REMOTE_DISCOVERY`: OpenID discovery / introspection.
    #[serde(rename = "REMOTE_DISCOVERY")]
    RemoteDiscovery(RemoteDiscoveryValidationPolicy),
}

tagged_deserialize!(TokenValidationPolicy, "type", {
    "REMOTE_JWKS" => RemoteJwks(RemoteJwksValidationPolicy),
    "STATIC_KEYS" => StaticKeys(StaticKeysValidationPolicy),
    "REMOTE_DISCOVERY" => RemoteDiscovery(RemoteDiscoveryValidationPolicy),
});

impl TokenValidationPolicy {
    /// The JSON `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            TokenValidationPolicy::RemoteJwks(_) => "REMOTE_JWKS",
            TokenValidationPolicy::StaticKeys(_) => "STATIC_KEYS",
            TokenValidationPolicy::RemoteDiscovery(_) => "REMOTE_DISCOVERY",
        }
    }

    /// Issuer / audience / claim checks, if any.
    pub fn additional_validation_policy(&self) -> Option<&AdditionalValidationPolicy> {
        match self {
            TokenValidationPolicy::RemoteJwks(p) => p.additional_validation_policy.as_ref(),
            TokenValidationPolicy::StaticKeys(p) => p.additional_validation_policy.as_ref(),
            TokenValidationPolicy::RemoteDiscovery(p) => p.additional_validation_policy.as_ref(),
        }
    }
}

/// `TokenAuthenticationRemoteJWKSValidationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteJwksValidationPolicy {
    /// JWKS URL (reachable without authentication).
    pub uri: String,
    /// Skip TLS verification of the JWKS server (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_ssl_verify_disabled: Option<bool>,
    /// How long the JWKS is cached, 1–24 h.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_cache_duration_in_hours: Option<i64>,
    /// Issuer / audience / claim checks.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub additional_validation_policy: Option<AdditionalValidationPolicy>,
}

/// `TokenAuthenticationStaticKeysValidationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticKeysValidationPolicy {
    /// The keys (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub keys: Vec<StaticPublicKey>,
    /// Issuer / audience / claim checks.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub additional_validation_policy: Option<AdditionalValidationPolicy>,
}

/// `TokenAuthenticationRemoteDiscoveryValidationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteDiscoveryValidationPolicy {
    /// OAuth2 client used for introspection.
    pub client_details: ClientAppDetails,
    /// Where the discovery document is.
    pub source_uri_details: SourceUriDetails,
    /// Skip TLS verification of the IdP (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_ssl_verify_disabled: Option<bool>,
    /// How long introspection results are cached, 1–24 h (default 1).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_cache_duration_in_hours: Option<i64>,
    /// Issuer / audience / claim checks.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub additional_validation_policy: Option<AdditionalValidationPolicy>,
}

/// `AdditionalValidationPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalValidationPolicy {
    /// Accepted `iss` values (≤ 5).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub issuers: Vec<String>,
    /// Accepted `aud` values (≤ 5).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub audiences: Vec<String>,
    /// Extra claim checks (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub verify_claims: Vec<JsonWebTokenClaim>,
}

/// `JsonWebTokenClaim`: one `verifyClaims` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonWebTokenClaim {
    /// Claim name.
    pub key: String,
    /// Accepted values, compared exactly; empty means "presence only" when required.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub values: Vec<String>,
    /// Whether the claim must be present (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_required: Option<bool>,
}

/// `StaticPublicKey`, discriminated by `format`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "format")]
pub enum StaticPublicKey {
    /// `JSON_WEB_KEY`: an RSA JWK.
    #[serde(rename = "JSON_WEB_KEY")]
    JsonWebKey(JsonWebKey),
    /// `PEM`: a PEM `PUBLIC KEY`.
    #[serde(rename = "PEM")]
    Pem(PemEncodedPublicKey),
}

tagged_deserialize!(StaticPublicKey, "format", {
    "JSON_WEB_KEY" => JsonWebKey(JsonWebKey),
    "PEM" => Pem(PemEncodedPublicKey),
});

impl StaticPublicKey {
    /// The key id matched against the JWT header `kid`.
    pub fn kid(&self) -> &str {
        match self {
            StaticPublicKey::JsonWebKey(k) => &k.kid,
            StaticPublicKey::Pem(k) => &k.kid,
        }
    }
}

/// `JsonWebKey` (note `key_ops` is snake_case in OCI's JSON too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonWebKey {
    /// Key id.
    pub kid: String,
    /// Key type; OCI accepts `RSA`.
    pub kty: String,
    /// Intended use; `sig` if present.
    #[serde(rename = "use", default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub use_: Option<String>,
    /// Allowed operations; must include `verify` if present.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub key_ops: Vec<String>,
    /// Algorithm (`RS256`, `RS384`, `RS512`) if present.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub alg: Option<String>,
    /// RSA modulus, base64url.
    pub n: String,
    /// RSA exponent, base64url.
    pub e: String,
}

/// `PemEncodedPublicKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PemEncodedPublicKey {
    /// Key id.
    pub kid: String,
    /// `-----BEGIN PUBLIC KEY-----` ... `-----END PUBLIC KEY-----`.
    pub key: String,
}

/// `ClientAppDetails`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ClientAppDetails {
    /// `CUSTOM`: a client id and a secret reference.
    #[serde(rename = "CUSTOM")]
    Custom(CustomClientAppDetails),
    /// `VALIDATION_BLOCK`: reuse the validation policy's client (OAUTH2 failure policy only).
    #[serde(rename = "VALIDATION_BLOCK")]
    ValidationBlock,
}

tagged_deserialize!(ClientAppDetails, "type", {
    "CUSTOM" => Custom(CustomClientAppDetails),
    "VALIDATION_BLOCK" => ValidationBlock,
});

/// `CustomClientAppDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomClientAppDetails {
    /// OAuth2 client id.
    pub client_id: String,
    /// Secret reference (an OCI Vault secret OCID in the cloud).
    pub client_secret_id: String,
    /// Secret version.
    pub client_secret_version_number: i64,
}

/// `SourceUriDetails`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum SourceUriDetails {
    /// `DISCOVERY_URI`: an OpenID discovery document URL.
    #[serde(rename = "DISCOVERY_URI")]
    DiscoveryUri(DiscoveryUriSourceUriDetails),
    /// `VALIDATION_BLOCK`: reuse the validation policy's discovery URI (OAUTH2 failure policy only).
    #[serde(rename = "VALIDATION_BLOCK")]
    ValidationBlock,
}

tagged_deserialize!(SourceUriDetails, "type", {
    "DISCOVERY_URI" => DiscoveryUri(DiscoveryUriSourceUriDetails),
    "VALIDATION_BLOCK" => ValidationBlock,
});

/// `DiscoveryUriSourceUriDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryUriSourceUriDetails {
    /// `.../.well-known/openid-configuration`.
    pub uri: String,
}

/// `ValidationFailurePolicy`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ValidationFailurePolicy {
    /// `MODIFY_RESPONSE`: custom status, message and headers.
    #[serde(rename = "MODIFY_RESPONSE")]
    ModifyResponse(ModifyResponseValidationFailurePolicy),
    /// `OAUTH2`: OIDC authorization-code login (REMOTE_DISCOVERY only).
    #[serde(rename = "OAUTH2")]
    OAuth2(OAuth2ResponseValidationFailurePolicy),
}

tagged_deserialize!(ValidationFailurePolicy, "type", {
    "MODIFY_RESPONSE" => ModifyResponse(ModifyResponseValidationFailurePolicy),
    "OAUTH2" => OAuth2(OAuth2ResponseValidationFailurePolicy),
});

/// `ModifyResponseValidationFailurePolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModifyResponseValidationFailurePolicy {
    /// Status code; may be a context variable (`${request.auth[code]}`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_code: Option<String>,
    /// Message; context variables allowed (not `request.body`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_message: Option<String>,
    /// Header transformations applied to the failure response.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_header_transformations: Option<HeaderTransformationPolicy>,
}

/// `OAuth2ResponseValidationFailurePolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2ResponseValidationFailurePolicy {
    /// OAuth2 client.
    pub client_details: ClientAppDetails,
    /// Discovery document.
    pub source_uri_details: SourceUriDetails,
    /// Requested scopes (must include `openid`).
    pub scopes: Vec<String>,
    /// Session lifetime, hours (default 1).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_expiry_duration_in_hours: Option<i64>,
    /// Keep the session in a cookie.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub use_cookies_for_session: Option<bool>,
    /// Keep intermediate OAuth2 state in cookies.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub use_cookies_for_intermediate_steps: Option<bool>,
    /// Use PKCE.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub use_pkce: Option<bool>,
    /// Only `CODE`.
    pub response_type: OAuth2ResponseType,
    /// Where non-GET requests go after login.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub fallback_redirect_path: Option<String>,
    /// Logout path.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub logout_path: Option<String>,
    /// Path of the route with `OAUTH2_LOGIN_BACKEND`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub login_path: Option<String>,
}

/// OAuth2 response type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OAuth2ResponseType {
    /// Authorization-code flow.
    #[serde(rename = "CODE")]
    Code,
}

/// `JwtAuthenticationPolicy` (legacy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthenticationPolicy {
    /// Whether unauthenticated callers may reach `ANONYMOUS` routes (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_anonymous_access_allowed: Option<bool>,
    /// Header carrying the token.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_header: Option<String>,
    /// Query parameter carrying the token.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_query_param: Option<String>,
    /// Scheme before the token in `tokenHeader`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_auth_scheme: Option<String>,
    /// Allowed clock skew, 0–120 s.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_clock_skew_in_seconds: Option<f64>,
    /// Accepted `iss` values (1–5).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (1–5).
    pub audiences: Vec<String>,
    /// Extra claim checks (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub verify_claims: Vec<JsonWebTokenClaim>,
    /// Where keys come from.
    pub public_keys: PublicKeySet,
}

impl JwtAuthenticationPolicy {
    /// Oracle's migration recipe: `issuers`/`audiences`/`verifyClaims` move into
    /// `validationPolicy.additionalValidationPolicy`, and `publicKeys` becomes `validationPolicy`.
    pub fn to_token_authentication(&self) -> TokenAuthenticationPolicy {
        let additional = AdditionalValidationPolicy {
            issuers: self.issuers.clone(),
            audiences: self.audiences.clone(),
            verify_claims: self.verify_claims.clone(),
        };
        let validation_policy = match &self.public_keys {
            PublicKeySet::RemoteJwks(remote) => TokenValidationPolicy::RemoteJwks(RemoteJwksValidationPolicy {
                uri: remote.uri.clone(),
                is_ssl_verify_disabled: remote.is_ssl_verify_disabled,
                max_cache_duration_in_hours: remote.max_cache_duration_in_hours,
                additional_validation_policy: Some(additional),
            }),
            PublicKeySet::StaticKeys(keys) => TokenValidationPolicy::StaticKeys(StaticKeysValidationPolicy {
                keys: keys.keys.clone(),
                additional_validation_policy: Some(additional),
            }),
        };
        TokenAuthenticationPolicy {
            is_anonymous_access_allowed: self.is_anonymous_access_allowed,
            token_header: self.token_header.clone(),
            token_query_param: self.token_query_param.clone(),
            token_auth_scheme: self.token_auth_scheme.clone(),
            max_clock_skew_in_seconds: self.max_clock_skew_in_seconds,
            validation_policy,
            validation_failure_policy: None,
        }
    }
}

/// `PublicKeySet` (legacy `publicKeys`), discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum PublicKeySet {
    /// `REMOTE_JWKS`.
    #[serde(rename = "REMOTE_JWKS")]
    RemoteJwks(RemoteJsonWebKeySet),
    /// `STATIC_KEYS`.
    #[serde(rename = "STATIC_KEYS")]
    StaticKeys(StaticPublicKeySet),
}

tagged_deserialize!(PublicKeySet, "type", {
    "REMOTE_JWKS" => RemoteJwks(RemoteJsonWebKeySet),
    "STATIC_KEYS" => StaticKeys(StaticPublicKeySet),
});

/// `RemoteJsonWebKeySet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteJsonWebKeySet {
    /// JWKS URL.
    pub uri: String,
    /// Skip TLS verification (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_ssl_verify_disabled: Option<bool>,
    /// Cache duration, 1–24 h.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_cache_duration_in_hours: Option<i64>,
}

/// `StaticPublicKeySet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticPublicKeySet {
    /// The keys (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub keys: Vec<StaticPublicKey>,
}

/// `CustomAuthenticationPolicy` (authorizer function).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomAuthenticationPolicy {
    /// Whether unauthenticated callers may reach `ANONYMOUS` routes (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_anonymous_access_allowed: Option<bool>,
    /// The authorizer function.
    pub function_id: String,
    /// Single-argument mode: header carrying the token.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_header: Option<String>,
    /// Single-argument mode: query parameter carrying the token.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub token_query_param: Option<String>,
    /// Multi-argument mode: argument name → bare context expression (`request.headers[X]`), ≤ 10.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty_map")]
    pub parameters: BTreeMap<String, String>,
    /// Arguments whose values form the result cache key (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub cache_key: Vec<String>,
    /// What to answer when the function says `active: false`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub validation_failure_policy: Option<ValidationFailurePolicy>,
}

/// `RouteAuthorizationPolicy`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum RouteAuthorizationPolicy {
    /// `ANONYMOUS`: no token needed (requires `isAnonymousAccessAllowed`).
    #[serde(rename = "ANONYMOUS")]
    Anonymous,
    /// `AUTHENTICATION_ONLY`: any authenticated caller (the default).
    #[serde(rename = "AUTHENTICATION_ONLY")]
    AuthenticationOnly,
    /// `ANY_OF`: an authenticated caller holding any of `allowedScope`.
    #[serde(rename = "ANY_OF")]
    AnyOf(AnyOfRouteAuthorizationPolicy),
}

tagged_deserialize!(RouteAuthorizationPolicy, "type", {
    "ANONYMOUS" => Anonymous,
    "AUTHENTICATION_ONLY" => AuthenticationOnly,
    "ANY_OF" => AnyOf(AnyOfRouteAuthorizationPolicy),
});

/// `AnyOfRouteAuthorizationPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyOfRouteAuthorizationPolicy {
    /// Scopes, any one of which admits the caller (case-sensitive, whole-token match).
    pub allowed_scope: Vec<String>,
}

/// `DynamicAuthenticationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicAuthenticationPolicy {
    /// The context variable that picks the server.
    pub selection_source: SelectionSourcePolicy,
    /// Candidate servers (1–100).
    pub authentication_servers: Vec<AuthenticationServerPolicy>,
}

/// `AuthenticationServerPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationServerPolicy {
    /// Which selector values pick this server.
    pub key: DynamicSelectionKey,
    /// The authentication policy used.
    pub authentication_server_detail: AuthenticationPolicy,
}
