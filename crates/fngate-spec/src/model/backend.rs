//! Route backends (`backend.type`) and dynamic selection keys.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::serde_support::tagged_deserialize;

/// `ApiSpecificationRouteBackend`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Backend {
    /// `HTTP_BACKEND`: reverse proxy to a URL.
    #[serde(rename = "HTTP_BACKEND")]
    Http(HttpBackend),
    /// `ORACLE_FUNCTIONS_BACKEND`: call a function.
    #[serde(rename = "ORACLE_FUNCTIONS_BACKEND")]
    OracleFunctions(OracleFunctionBackend),
    /// `STOCK_RESPONSE_BACKEND`: a fixed response.
    #[serde(rename = "STOCK_RESPONSE_BACKEND")]
    StockResponse(StockResponseBackend),
    /// `DYNAMIC_ROUTING_BACKEND`: pick one of several backends per request.
    #[serde(rename = "DYNAMIC_ROUTING_BACKEND")]
    DynamicRouting(DynamicRoutingBackend),
    /// `OAUTH2_LOGIN_BACKEND`: target of an OAUTH2 failure policy's `loginPath`.
    #[serde(rename = "OAUTH2_LOGIN_BACKEND")]
    OAuth2Login,
    /// `OAUTH2_LOGOUT_BACKEND`: clears the OAuth2 session.
    #[serde(rename = "OAUTH2_LOGOUT_BACKEND")]
    OAuth2Logout(OAuth2LogoutBackend),
}

tagged_deserialize!(Backend, "type", {
    "HTTP_BACKEND" => Http(HttpBackend),
    "ORACLE_FUNCTIONS_BACKEND" => OracleFunctions(OracleFunctionBackend),
    "STOCK_RESPONSE_BACKEND" => StockResponse(StockResponseBackend),
    "DYNAMIC_ROUTING_BACKEND" => DynamicRouting(DynamicRoutingBackend),
    "OAUTH2_LOGIN_BACKEND" => OAuth2Login,
    "OAUTH2_LOGOUT_BACKEND" => OAuth2Logout(OAuth2LogoutBackend),
});

impl Backend {
    /// The JSON `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Backend::Http(_) => "HTTP_BACKEND",
            Backend::OracleFunctions(_) => "ORACLE_FUNCTIONS_BACKEND",
            Backend::StockResponse(_) => "STOCK_RESPONSE_BACKEND",
            Backend::DynamicRouting(_) => "DYNAMIC_ROUTING_BACKEND",
            Backend::OAuth2Login => "OAUTH2_LOGIN_BACKEND",
            Backend::OAuth2Logout(_) => "OAUTH2_LOGOUT_BACKEND",
        }
    }
}

/// `HTTPBackend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpBackend {
    /// `http(s)://host[:port][/path]`; the path may contain `${...}` context variables.
    pub url: String,
    /// Connect timeout, 1–75 s, default 60.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub connect_timeout_in_seconds: Option<f64>,
    /// Read timeout, 1–300 s, default 10.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub read_timeout_in_seconds: Option<f64>,
    /// Send timeout, 1–300 s, default 10.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub send_timeout_in_seconds: Option<f64>,
    /// Skip TLS verification of the backend (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_ssl_verify_disabled: Option<bool>,
}

impl HttpBackend {
    /// OCI default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT_SECS: f64 = 60.0;
    /// OCI default read timeout.
    pub const DEFAULT_READ_TIMEOUT_SECS: f64 = 10.0;
    /// OCI default send timeout.
    pub const DEFAULT_SEND_TIMEOUT_SECS: f64 = 10.0;

    /// Connect timeout with OCI's default applied.
    pub fn connect_timeout(&self) -> Duration {
        seconds(self.connect_timeout_in_seconds, Self::DEFAULT_CONNECT_TIMEOUT_SECS)
    }

    /// Read timeout with OCI's default applied.
    pub fn read_timeout(&self) -> Duration {
        seconds(self.read_timeout_in_seconds, Self::DEFAULT_READ_TIMEOUT_SECS)
    }

    /// Send timeout with OCI's default applied.
    pub fn send_timeout(&self) -> Duration {
        seconds(self.send_timeout_in_seconds, Self::DEFAULT_SEND_TIMEOUT_SECS)
    }

    /// Whether backend TLS certificates are verified (the default).
    pub fn verifies_tls(&self) -> bool {
        !self.is_ssl_verify_disabled.unwrap_or(false)
    }
}

fn seconds(value: Option<f64>, default: f64) -> Duration {
    let secs = value.filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(default);
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs_f64(default))
}

/// `OracleFunctionBackend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleFunctionBackend {
    /// The function: an OCI function OCID, or whatever id/name the local functions runtime
    /// resolves (the gateway decides).
    pub function_id: String,
}

/// `StockResponseBackend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockResponseBackend {
    /// HTTP status (100–599).
    pub status: i64,
    /// Response body (a JSON string; at most 5 KB).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub body: Option<String>,
    /// Response headers (at most 50).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub headers: Vec<HeaderFieldSpecification>,
}

/// `HeaderFieldSpecification`: one stock-response header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderFieldSpecification {
    /// Header name (≤ 1024 bytes).
    pub name: String,
    /// Header value (≤ 4096 bytes).
    pub value: String,
}

/// `DynamicRoutingBackend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicRoutingBackend {
    /// The context variable whose value picks the backend.
    pub selection_source: SelectionSourcePolicy,
    /// Candidate backends (1–100).
    pub routing_backends: Vec<DynamicRoutingTypeRoutingBackend>,
}

/// `DynamicRoutingTypeRoutingBackend`: a key and the backend it selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicRoutingTypeRoutingBackend {
    /// Which selector values select this backend.
    pub key: DynamicSelectionKey,
    /// HTTP, function or stock-response backend (no nesting of dynamic routing).
    pub backend: Box<Backend>,
}

/// `SelectionSourcePolicy`, discriminated by `type` (only `SINGLE`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum SelectionSourcePolicy {
    /// `SINGLE`: one context variable.
    #[serde(rename = "SINGLE")]
    Single(SingleSelectionSourcePolicy),
}

tagged_deserialize!(SelectionSourcePolicy, "type", {
    "SINGLE" => Single(SingleSelectionSourcePolicy),
});

impl SelectionSourcePolicy {
    /// The bare context expression, e.g. `request.headers[Accept]`.
    pub fn selector(&self) -> &str {
        match self {
            SelectionSourcePolicy::Single(s) => &s.selector,
        }
    }
}

/// `SingleSelectionSourcePolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleSelectionSourcePolicy {
    /// Bare context expression (`request.headers[Accept]`, `request.subdomain[example.com]`).
    pub selector: String,
}

/// `DynamicSelectionKey`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum DynamicSelectionKey {
    /// `ANY_OF`: exact match against any of `values`.
    #[serde(rename = "ANY_OF")]
    AnyOf(AnyOfSelectionKey),
    /// `WILDCARD`: `*` (0+ chars) or `+` (1+ chars) at the start or end of `expression`.
    #[serde(rename = "WILDCARD")]
    Wildcard(WildcardSelectionKey),
}

tagged_deserialize!(DynamicSelectionKey, "type", {
    "ANY_OF" => AnyOf(AnyOfSelectionKey),
    "WILDCARD" => Wildcard(WildcardSelectionKey),
});

impl DynamicSelectionKey {
    /// The branch name.
    pub fn name(&self) -> &str {
        match self {
            DynamicSelectionKey::AnyOf(k) => &k.name,
            DynamicSelectionKey::Wildcard(k) => &k.name,
        }
    }

    /// Whether this is the default branch.
    pub fn is_default(&self) -> bool {
        match self {
            DynamicSelectionKey::AnyOf(k) => k.is_default.unwrap_or(false),
            DynamicSelectionKey::Wildcard(k) => k.is_default.unwrap_or(false),
        }
    }

    /// Whether a selector value selects this key (ignores `isDefault`).
    pub fn matches(&self, value: &str) -> bool {
        match self {
            DynamicSelectionKey::AnyOf(k) => k.values.iter().any(|v| v == value),
            DynamicSelectionKey::Wildcard(k) => wildcard_matches(&k.expression, value),
        }
    }
}

/// Matches OCI's one-wildcard expressions: `*` = zero or more characters, `+` = one or more,
/// placed at the start or the end. An expression without a wildcard matches exactly.
pub fn wildcard_matches(expression: &str, value: &str) -> bool {
    if let Some(suffix) = expression.strip_prefix('*') {
        value.ends_with(suffix)
    } else if let Some(suffix) = expression.strip_prefix('+') {
        value.len() > suffix.len() && value.ends_with(suffix)
    } else if let Some(prefix) = expression.strip_suffix('*') {
        value.starts_with(prefix)
    } else if let Some(prefix) = expression.strip_suffix('+') {
        value.len() > prefix.len() && value.starts_with(prefix)
    } else {
        expression == value
    }
}

/// `AnyOfSelectionKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyOfSelectionKey {
    /// Branch name.
    pub name: String,
    /// Default branch when nothing else matches.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_default: Option<bool>,
    /// Values matched exactly.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub values: Vec<String>,
}

/// `WildcardSelectionKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WildcardSelectionKey {
    /// Branch name.
    pub name: String,
    /// Default branch when nothing else matches.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_default: Option<bool>,
    /// One `*` or `+`, at the start or the end.
    pub expression: String,
}

/// `OAuth2LogoutBackend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2LogoutBackend {
    /// Where the client may be redirected after logout (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub allowed_post_logout_uris: Vec<String>,
    /// State passed on the post-logout redirect.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub post_logout_state: Option<String>,
}
