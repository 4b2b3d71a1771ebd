//! OCI API Gateway's documented limits (reference §7 and the policy pages), enforced by
//! [`crate::validate`] and available to the gateway for runtime limits.

use std::ops::RangeInclusive;

/// Largest specification document (2 MB of JSON).
pub const MAX_SPEC_BYTES: usize = 2 * 1024 * 1024;
/// Routes per deployment (not raisable in OCI).
pub const MAX_ROUTES: usize = 50;
/// Longest route path pattern.
pub const MAX_ROUTE_PATH_LEN: usize = 2000;
/// Longest deployment path prefix.
pub const MAX_PATH_PREFIX_LEN: usize = 255;

/// Largest request body the gateway accepts (runtime limit: 413 above it).
pub const MAX_REQUEST_BODY_BYTES: usize = 20 * 1024 * 1024;
/// Largest request body sent to a function backend.
pub const MAX_FUNCTION_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Largest request head (method + URI + headers).
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;

/// HTTP backend connect timeout range, seconds.
pub const HTTP_CONNECT_TIMEOUT_SECS: RangeInclusive<f64> = 1.0..=75.0;
/// HTTP backend read / send timeout range, seconds.
pub const HTTP_READ_SEND_TIMEOUT_SECS: RangeInclusive<f64> = 1.0..=300.0;

/// Stock response: headers.
pub const MAX_STOCK_HEADERS: usize = 50;
/// Stock response: header name bytes.
pub const MAX_STOCK_HEADER_NAME: usize = 1024;
/// Stock response: header value bytes.
pub const MAX_STOCK_HEADER_VALUE: usize = 4096;
/// Stock response: the headers as JSON, bytes.
pub const MAX_STOCK_HEADERS_JSON: usize = 4096;
/// Stock response body per the limits page (above it: a warning).
pub const STOCK_BODY_LIMITS_PAGE: usize = 4096;
/// Stock response body per the stock-response page (above it: an error).
pub const MAX_STOCK_BODY: usize = 5 * 1024;
/// Stock response status range.
pub const STOCK_STATUS: RangeInclusive<i64> = 100..=599;

/// Dynamic routing: backends per route.
pub const MAX_ROUTING_BACKENDS: usize = 100;
/// Dynamic routing / authentication: values per `ANY_OF` key.
pub const MAX_SELECTION_KEY_VALUES: usize = 100;
/// Dynamic authentication: servers per deployment.
pub const MAX_AUTH_SERVERS: usize = 100;

/// Header transformations: headers set.
pub const MAX_SET_HEADERS: usize = 20;
/// Header transformations: values per set header.
pub const MAX_SET_HEADER_VALUES: usize = 10;
/// Header transformations: headers renamed.
pub const MAX_RENAME_HEADERS: usize = 20;
/// Header transformations: headers filtered.
pub const MAX_FILTER_HEADERS: usize = 50;

/// CORS: allowed methods, allowed headers, exposed headers (each).
pub const MAX_CORS_ENTRIES: usize = 50;
/// Mutual TLS: allowed SANs.
pub const MAX_ALLOWED_SANS: usize = 10;

/// JWT: allowed clock skew, seconds.
pub const CLOCK_SKEW_SECS: RangeInclusive<f64> = 0.0..=120.0;
/// JWT: issuers.
pub const MAX_ISSUERS: usize = 5;
/// JWT: audiences.
pub const MAX_AUDIENCES: usize = 5;
/// JWT: `verifyClaims` entries.
pub const MAX_VERIFY_CLAIMS: usize = 10;
/// JWT: static keys (and JWKS keys).
pub const MAX_STATIC_KEYS: usize = 10;
/// JWKS / introspection cache duration, hours (also OAUTH2 `maxExpiryDurationInHours`).
pub const CACHE_HOURS: RangeInclusive<i64> = 1..=24;
/// RSA key sizes, bits.
pub const RSA_BITS: RangeInclusive<usize> = 2048..=4096;
/// `alg` values a static JWK may declare: OCI's RS256/RS384/RS512, plus PS256 (an fngate
/// extension the auth crate supports for RSA keys).
pub const JWK_ALGS: [&str; 4] = ["RS256", "RS384", "RS512", "PS256"];

/// Authorizer function: `parameters` entries.
pub const MAX_AUTHORIZER_PARAMETERS: usize = 10;
/// Authorizer function: `cacheKey` entries.
pub const MAX_CACHE_KEYS: usize = 10;
/// OAUTH2 logout backend: allowed post-logout URIs.
pub const MAX_POST_LOGOUT_URIS: usize = 10;
