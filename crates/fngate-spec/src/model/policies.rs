//! Non-authentication policies: CORS, rate limiting, mTLS, usage plans, validations,
//! header / query transformations and response caching.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::serde_support::tagged_deserialize;

/// `CorsPolicy` (global and/or per route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CorsPolicy {
    /// `*`, `null` (file: origins) or `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// `Access-Control-Allow-Methods` (≤ 50; `*` allowed).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub allowed_methods: Vec<String>,
    /// `Access-Control-Allow-Headers` (≤ 50; `*` allowed).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub allowed_headers: Vec<String>,
    /// `Access-Control-Expose-Headers` (≤ 50; `*` allowed).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub exposed_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true` (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_allow_credentials_enabled: Option<bool>,
    /// `Access-Control-Max-Age`, sent only when > 0 (default 0).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub max_age_in_seconds: Option<i64>,
}

/// `RateLimitingPolicy` (global only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitingPolicy {
    /// Requests per second allowed (≥ 1).
    pub rate_in_requests_per_second: i64,
    /// Per client IP (IPv6 per /64) or for everyone together.
    pub rate_key: RateKey,
}

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateKey {
    /// `CLIENT_IP`: per IPv4 address / IPv6 /64.
    ClientIp,
    /// `TOTAL`: all clients together.
    Total,
}

/// `MutualTlsDetails` (global only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MutualTlsDetails {
    /// Require a verified client certificate.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_verified_certificate_required: Option<bool>,
    /// Accepted certificate CN / SANs (≤ 10).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub allowed_sans: Vec<String>,
}

/// `UsagePlansPolicy` (global only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlansPolicy {
    /// Bare context expressions where the API token may be (`request.headers[token]`).
    pub token_locations: Vec<String>,
}

/// `validationMode` of request validations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum ValidationMode {
    /// Reject invalid requests (the default).
    #[default]
    Enforcing,
    /// Only record the result.
    Permissive,
    /// Validation off.
    Disabled,
}

/// One header or query parameter validation entry (`HeaderValidationItem`,
/// `QueryParameterValidationItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationItem {
    /// Header (case-insensitive) or query parameter (case-sensitive) name.
    pub name: String,
    /// Whether it must be present (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub required: Option<bool>,
}

/// `QueryParameterValidationRequestPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterValidationRequestPolicy {
    /// The parameters.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub parameters: Vec<ValidationItem>,
    /// Mode (default `ENFORCING`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub validation_mode: Option<ValidationMode>,
}

/// `HeaderValidationRequestPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HeaderValidationRequestPolicy {
    /// The headers.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub headers: Vec<ValidationItem>,
    /// Mode (default `ENFORCING`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub validation_mode: Option<ValidationMode>,
}

/// `BodyValidationRequestPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BodyValidationRequestPolicy {
    /// Whether a body must be present (default false).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub required: Option<bool>,
    /// Media range (`*/*`, `text/*`, `application/json`) → validation; the most specific wins.
    pub content: BTreeMap<String, ContentValidation>,
    /// Mode (default `ENFORCING`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub validation_mode: Option<ValidationMode>,
}

/// `ContentValidation`, discriminated by `validationType` (only `NONE`: a content-type check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "validationType")]
pub enum ContentValidation {
    /// `NONE`: the body is not parsed.
    #[serde(rename = "NONE")]
    None,
}

tagged_deserialize!(ContentValidation, "validationType", {
    "NONE" => None,
});

/// What `setHeaders` / `setQueryParameters` do when the name already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum IfExists {
    /// Replace existing values (the default).
    #[default]
    Overwrite,
    /// Add after existing values.
    Append,
    /// Keep existing values.
    Skip,
}

/// `FilterHeaderPolicy.type` / `FilterQueryParameterPolicy.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterType {
    /// Keep only the listed names.
    Allow,
    /// Drop the listed names.
    Block,
}

/// `SetHeaderPolicy` / `SetQueryParameterPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPolicy {
    /// Names and values to set (≤ 20 headers).
    pub items: Vec<SetItem>,
}

/// `SetHeaderPolicyItem` / `SetQueryParameterPolicyItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetItem {
    /// Header (case-insensitive) or query parameter (case-sensitive) name.
    pub name: String,
    /// Values (1–10), each may contain `${...}` context variables; each value is one instance.
    pub values: Vec<String>,
    /// Behaviour when the name exists (default `OVERWRITE`).
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub if_exists: Option<IfExists>,
}

impl SetItem {
    /// `ifExists` with OCI's default applied.
    pub fn if_exists(&self) -> IfExists {
        self.if_exists.unwrap_or_default()
    }
}

/// `RenameHeaderPolicy` / `RenameQueryParameterPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenamePolicy {
    /// Renames (≤ 20 headers).
    pub items: Vec<RenameItem>,
}

/// `RenameHeaderPolicyItem` / `RenameQueryParameterPolicyItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenameItem {
    /// Original name.
    pub from: String,
    /// New name.
    pub to: String,
}

/// `FilterHeaderPolicy` / `FilterQueryParameterPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterPolicy {
    /// Allow-list or block-list.
    #[serde(rename = "type")]
    pub filter_type: FilterType,
    /// The names (≤ 50 headers).
    pub items: Vec<FilterItem>,
}

/// `FilterHeaderPolicyItem` / `FilterQueryParameterPolicyItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterItem {
    /// The name.
    pub name: String,
}

/// `HeaderTransformationPolicy` (route request, route response, `MODIFY_RESPONSE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HeaderTransformationPolicy {
    /// Set headers.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub set_headers: Option<SetPolicy>,
    /// Rename headers.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub rename_headers: Option<RenamePolicy>,
    /// Filter headers.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub filter_headers: Option<FilterPolicy>,
}

/// `QueryParameterTransformationPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterTransformationPolicy {
    /// Set query parameters.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub set_query_parameters: Option<SetPolicy>,
    /// Rename query parameters.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub rename_query_parameters: Option<RenamePolicy>,
    /// Filter query parameters.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub filter_query_parameters: Option<FilterPolicy>,
}

/// SDK name of [`SetPolicy`] for headers.
pub type SetHeaderPolicy = SetPolicy;
/// SDK name of [`SetPolicy`] for query parameters.
pub type SetQueryParameterPolicy = SetPolicy;
/// SDK name of [`RenamePolicy`] for headers.
pub type RenameHeaderPolicy = RenamePolicy;
/// SDK name of [`RenamePolicy`] for query parameters.
pub type RenameQueryParameterPolicy = RenamePolicy;
/// SDK name of [`FilterPolicy`] for headers.
pub type FilterHeaderPolicy = FilterPolicy;
/// SDK name of [`FilterPolicy`] for query parameters.
pub type FilterQueryParameterPolicy = FilterPolicy;

/// `ResponseCacheLookupPolicy`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum ResponseCacheLookupPolicy {
    /// `SIMPLE_LOOKUP_POLICY`.
    #[serde(rename = "SIMPLE_LOOKUP_POLICY")]
    SimpleLookup(SimpleLookupPolicy),
}

tagged_deserialize!(ResponseCacheLookupPolicy, "type", {
    "SIMPLE_LOOKUP_POLICY" => SimpleLookup(SimpleLookupPolicy),
});

/// `SimpleLookupPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SimpleLookupPolicy {
    /// Whether lookup is on.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_enabled: Option<bool>,
    /// Cache responses to requests carrying `Authorization`.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_none")]
    pub is_private_caching_enabled: Option<bool>,
    /// Templates (`${request.headers[x]}`) added to the cache key.
    #[serde(default, skip_serializing_if = "crate::serde_support::skip_empty")]
    pub cache_key_additions: Vec<String>,
}

/// `ResponseCacheStorePolicy`, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum ResponseCacheStorePolicy {
    /// `FIXED_TTL_STORE_POLICY`.
    #[serde(rename = "FIXED_TTL_STORE_POLICY")]
    FixedTtl(FixedTtlResponseCacheStorePolicy),
}

tagged_deserialize!(ResponseCacheStorePolicy, "type", {
    "FIXED_TTL_STORE_POLICY" => FixedTtl(FixedTtlResponseCacheStorePolicy),
});

/// `FixedTTLResponseCacheStorePolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixedTtlResponseCacheStorePolicy {
    /// Seconds a stored response lives.
    pub time_to_live_in_seconds: i64,
}
