//! The `ApiSpecification` type tree, field for field as OCI's API (`oci` SDK models, API version
//! 20190501): camelCase JSON names, `type`-discriminated unions (`format` for
//! [`StaticPublicKey`], `validationType` for [`ContentValidation`]).
//!
//! Optional scalars and objects are `Option`s and optional lists are `Vec`s that are left out of
//! the JSON when empty, so serialising a parsed spec gives back the user's document (minus
//! unknown fields, which [`crate::parse`] reports as warnings). Defaults that OCI documents are
//! applied by accessor methods (`HttpBackend::connect_timeout`, `SetItem::if_exists`, ...), not
//! by rewriting the fields.

mod auth;
mod backend;
mod policies;

pub use auth::*;
pub use backend::*;
pub use policies::*;

use serde::{Deserialize, Serialize};

/// A deployment specification: what `oci api-gateway deployment create --specification` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecification {
    /// Deployment-wide request policies (authentication, CORS, rate limiting, mTLS, usage plans).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub request_policies: Option<RequestPolicies>,
    /// Deployment-wide logging policies.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub logging_policies: Option<LoggingPolicies>,
    /// The routes this API exposes (at least one; at most 50).
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// `ApiSpecificationRequestPolicies`: policies that apply to every route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RequestPolicies {
    /// How callers authenticate (JWT, or an authorizer function).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub authentication: Option<AuthenticationPolicy>,
    /// Deployment-wide rate limit (global only).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub rate_limiting: Option<RateLimitingPolicy>,
    /// Deployment-wide CORS policy (a route's own policy replaces it).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub cors: Option<CorsPolicy>,
    /// Client-certificate verification (global only).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub mutual_tls: Option<MutualTlsDetails>,
    /// Where usage-plan API tokens are found (global only).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub usage_plans: Option<UsagePlansPolicy>,
    /// Choose the authentication server per request from a context variable.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub dynamic_authentication: Option<DynamicAuthenticationPolicy>,
}

/// `ApiSpecificationLoggingPolicies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LoggingPolicies {
    /// Access log switch.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub access_log: Option<AccessLogPolicy>,
    /// Execution log switch and level.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub execution_log: Option<ExecutionLogPolicy>,
}

/// `AccessLogPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogPolicy {
    /// Whether access logging is on.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_enabled: Option<bool>,
}

/// `ExecutionLogPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionLogPolicy {
    /// Whether execution logging is on.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_enabled: Option<bool>,
    /// Lowest level logged.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub log_level: Option<LogLevel>,
}

/// Execution log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// `INFO`
    Info,
    /// `WARN`
    Warn,
    /// `ERROR`
    Error,
}

/// `ApiSpecificationRoute`: one path pattern, its methods, policies and backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Path pattern relative to the deployment's path prefix (`/items/{id}`, `/static/{path*}`).
    /// See [`crate::PathPattern`].
    pub path: String,
    /// Allowed methods; empty (absent) means every method, like `ANY`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub methods: Vec<Method>,
    /// Route request policies (authorization, CORS, validations, transformations, cache lookup).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub request_policies: Option<RouteRequestPolicies>,
    /// Route response policies (header transformations, cache store).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_policies: Option<RouteResponsePolicies>,
    /// Route logging policies (override the deployment's).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub logging_policies: Option<LoggingPolicies>,
    /// Where matched requests go.
    pub backend: Backend,
}

impl Route {
    /// The route's authorization, defaulting to `AUTHENTICATION_ONLY` as OCI does.
    pub fn authorization(&self) -> RouteAuthorizationPolicy {
        self.request_policies
            .as_ref()
            .and_then(|p| p.authorization.clone())
            .unwrap_or(RouteAuthorizationPolicy::AuthenticationOnly)
    }

    /// Whether this route accepts `method` (an upper-case HTTP method name).
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.matches(method))
    }
}

/// A route method. `ANY` matches every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// Every method.
    Any,
    /// `HEAD`
    Head,
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The JSON spelling (`"GET"`, `"ANY"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Any => "ANY",
            Method::Head => "HEAD",
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether a request with this (upper-case) method matches.
    pub fn matches(self, method: &str) -> bool {
        self == Method::Any || self.as_str() == method
    }
}

/// `ApiSpecificationRouteRequestPolicies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteRequestPolicies {
    /// Who may call this route; absent means `AUTHENTICATION_ONLY`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub authorization: Option<RouteAuthorizationPolicy>,
    /// Route CORS policy (replaces the global one for this route).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub cors: Option<CorsPolicy>,
    /// Required / known query parameters.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub query_parameter_validations: Option<QueryParameterValidationRequestPolicy>,
    /// Required / known headers.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub header_validations: Option<HeaderValidationRequestPolicy>,
    /// Body presence and content type.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub body_validation: Option<BodyValidationRequestPolicy>,
    /// Request header set / rename / filter.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub header_transformations: Option<HeaderTransformationPolicy>,
    /// Query parameter set / rename / filter.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub query_parameter_transformations: Option<QueryParameterTransformationPolicy>,
    /// Response cache lookup.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_cache_lookup: Option<ResponseCacheLookupPolicy>,
}

/// `ApiSpecificationRouteResponsePolicies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponsePolicies {
    /// Response header set / rename / filter.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub header_transformations: Option<HeaderTransformationPolicy>,
    /// Response cache store.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub response_cache_store: Option<ResponseCacheStorePolicy>,
}
