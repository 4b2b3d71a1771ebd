//! `CUSTOM_AUTHENTICATION`: the authorizer function, called through `fngate_invoke::FunctionInvoker`
//! with OCI's input (`USER_DEFINED` with the configured arguments, or single-argument `TOKEN`), its
//! answer cached per cache key for the clamped `expiresAt` (60 s .. 1 h).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fngate_invoke::{FunctionInvoker, InvokeRequest};
use moka::Expiry;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::token::{self, Extracted};
use crate::token_cache::TokenHash;
use crate::{
    AuthConfigError, AuthOutcome, AuthRejection, AuthRequest, CustomConfig, Principal, TokenLocation, challenge,
};

/// OCI's clamp on how long an authorizer answer is reused.
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(3600);

/// Where one authorizer argument comes from.
#[derive(Debug, Clone, PartialEq)]
enum ArgSource {
    Header(http::HeaderName),
    Query(String),
    Body,
    Host,
}

impl ArgSource {
    /// Parses a bare context expression (`request.headers[X-Api-Key]`, `request.query[state]`, ...).
    fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        let keyed = |prefix: &str| {
            expr.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(']'))
                .filter(|k| !k.is_empty())
        };
        if expr == "request.body" {
            Ok(ArgSource::Body)
        } else if expr == "request.host" {
            Ok(ArgSource::Host)
        } else if let Some(name) = keyed("request.headers[") {
            http::HeaderName::try_from(name)
                .map(ArgSource::Header)
                .map_err(|_| format!("'{name}' is not a valid header name"))
        } else if let Some(name) = keyed("request.query[") {
            Ok(ArgSource::Query(name.to_owned()))
        } else {
            Err(format!(
                "'{expr}' is not supported here (use request.headers[..], request.query[..], request.body or request.host)"
            ))
        }
    }

    /// The argument's value; `None` when the variable is absent (then it is omitted, not sent as null).
    fn value(&self, request: &AuthRequest<'_>) -> Option<Value> {
        let many = |mut values: Vec<String>| match values.len() {
            0 => None,
            1 => values.pop().map(Value::String),
            _ => Some(Value::Array(values.into_iter().map(Value::String).collect())),
        };
        match self {
            ArgSource::Header(name) => many(
                request
                    .head
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect(),
            ),
            ArgSource::Query(name) => many(
                url::form_urlencoded::parse(request.head.uri.query().unwrap_or("").as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect(),
            ),
            ArgSource::Body => {
                (!request.body.is_empty()).then(|| Value::String(String::from_utf8_lossy(request.body).into_owned()))
            }
            ArgSource::Host => request
                .head
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| request.head.uri.host().map(str::to_owned))
                .map(Value::String),
        }
    }
}

enum Mode {
    /// Single-argument (legacy): `{"type":"TOKEN","token":...}`.
    Token(TokenLocation),
    /// Multi-argument: `{"type":"USER_DEFINED","data":{...}}`, with the args that form the cache key.
    Args {
        args: Vec<(String, ArgSource)>,
        cache_key: Vec<usize>,
    },
}

/// A positive authorizer answer, reused until it expires.
struct Grant {
    principal: Principal,
    ttl: Duration,
}

struct GrantExpiry;

impl Expiry<TokenHash, Arc<Grant>> for GrantExpiry {
    fn expire_after_create(&self, _key: &TokenHash, value: &Arc<Grant>, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Authorizer answers shared by all deployments (keys include the authenticator id).
#[derive(Clone)]
pub(crate) struct CustomCache {
    cache: moka::future::Cache<TokenHash, Arc<Grant>>,
}

impl CustomCache {
    pub(crate) fn new(capacity: u64) -> Self {
        CustomCache {
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .expire_after(GrantExpiry)
                .build(),
        }
    }
}

pub(crate) struct CustomAuthenticator {
    function_id: String,
    mode: Mode,
    anonymous: bool,
    invoker: Arc<dyn FunctionInvoker>,
    cache: CustomCache,
}

/// What the authorizer function answers (OCI's documented output).
#[derive(Debug, Deserialize)]
struct AuthorizerOutput {
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    scope: Option<Value>,
    #[serde(default, rename = "expiresAt")]
    expires_at: Option<String>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default, rename = "wwwAuthenticate")]
    www_authenticate: Option<String>,
}

impl CustomAuthenticator {
    pub(crate) fn new(
        config: &CustomConfig,
        invoker: Arc<dyn FunctionInvoker>,
        cache: CustomCache,
    ) -> Result<Self, AuthConfigError> {
        let function = invoker
            .resolve(&config.function_id)
            .ok_or_else(|| AuthConfigError(format!("functionId: function '{}' does not exist", config.function_id)))?;
        let mode = if config.parameters.is_empty() {
            let location = config.token_location.clone().ok_or_else(|| {
                AuthConfigError("CUSTOM_AUTHENTICATION needs 'parameters' or a tokenHeader / tokenQueryParam".into())
            })?;
            Mode::Token(location)
        } else {
            let mut args = Vec::with_capacity(config.parameters.len());
            for (name, expr) in &config.parameters {
                let source = ArgSource::parse(expr).map_err(|e| AuthConfigError(format!("parameters.{name}: {e}")))?;
                args.push((name.clone(), source));
            }
            let cache_key = if config.cache_key.is_empty() {
                (0..args.len()).filter(|i| args[*i].1 != ArgSource::Body).collect()
            } else {
                config
                    .cache_key
                    .iter()
                    .map(|k| {
                        args.iter()
                            .position(|(name, _)| name == k)
                            .ok_or_else(|| AuthConfigError(format!("cacheKey: '{k}' is not one of the parameters")))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            Mode::Args { args, cache_key }
        };
        Ok(CustomAuthenticator {
            function_id: function.fn_id,
            mode,
            anonymous: config.is_anonymous_access_allowed,
            invoker,
            cache,
        })
    }

    pub(crate) async fn authenticate(&self, authenticator_id: u64, request: &AuthRequest<'_>) -> AuthOutcome {
        let realm = request.realm;
        let (input, cache_material) = match &self.mode {
            Mode::Token(location) => match token::extract(request.head, location) {
                Extracted::Found(token) => {
                    let token = token.into_owned();
                    let input = json!({"type": "TOKEN", "token": token});
                    (input, token)
                }
                Extracted::Missing if self.anonymous => return AuthOutcome::Anonymous,
                Extracted::Missing => {
                    return AuthOutcome::Rejected(challenge::missing_token(realm, "Token missing from the request."));
                }
                Extracted::Ambiguous(why) => return AuthOutcome::Rejected(challenge::invalid_request(realm, why)),
                Extracted::Malformed => {
                    return AuthOutcome::Rejected(challenge::invalid_token(
                        realm,
                        "The access token is malformed",
                        "Token is not a valid bearer token.",
                    ));
                }
            },
            Mode::Args { args, cache_key } => {
                let values: Vec<Option<Value>> = args.iter().map(|(_, source)| source.value(request)).collect();
                if values.iter().all(Option::is_none) {
                    if self.anonymous {
                        return AuthOutcome::Anonymous;
                    }
                    return AuthOutcome::Rejected(challenge::missing_token(
                        realm,
                        "None of the authorizer function's arguments is present in the request.",
                    ));
                }
                let mut data = Map::new();
                for ((name, _), value) in args.iter().zip(&values) {
                    if let Some(value) = value {
                        data.insert(name.clone(), value.clone());
                    }
                }
                let key: Vec<Value> = cache_key
                    .iter()
                    .map(|i| json!([args[*i].0, values[*i].clone()]))
                    .collect();
                (
                    json!({"type": "USER_DEFINED", "data": data}),
                    Value::Array(key).to_string(),
                )
            }
        };
        let key = crate::token_cache::TokenCache::hash(authenticator_id, &cache_material);
        let result = self
            .cache
            .cache
            .try_get_with(key, async { self.call(&input, realm).await.map(Arc::new) })
            .await;
        match result {
            Ok(grant) => AuthOutcome::Authenticated(grant.principal.clone()),
            Err(rejection) => AuthOutcome::Rejected((*rejection).clone()),
        }
    }

    /// Calls the function; only an active answer becomes a (cacheable) grant.
    async fn call(&self, input: &Value, realm: &str) -> Result<Grant, AuthRejection> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let request = InvokeRequest {
            headers,
            body: Bytes::from(input.to_string()),
        };
        let response = self.invoker.invoke(&self.function_id, request).await.map_err(|e| {
            challenge::authorizer_failed(format!("Authorizer function {} failed: {e}.", self.function_id))
        })?;
        if response.status != http::StatusCode::OK {
            return Err(challenge::authorizer_failed(format!(
                "Authorizer function {} answered HTTP {}.",
                self.function_id, response.status
            )));
        }
        let output: AuthorizerOutput = serde_json::from_slice(&response.body).map_err(|e| {
            challenge::authorizer_failed(format!(
                "Authorizer function {} returned an invalid response: {e}.",
                self.function_id
            ))
        })?;
        if output.active != Some(true) {
            return Err(challenge::authorizer_denied(realm, output.www_authenticate.as_deref()));
        }
        let scopes = match &output.scope {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Ok(Grant {
            principal: Principal {
                claims: output.context.unwrap_or_default(),
                scopes,
            },
            ttl: ttl_from(output.expires_at.as_deref(), crate::service::now_secs()),
        })
    }
}

/// `expiresAt` (ISO-8601) → how long to reuse the answer, clamped to 60 s .. 1 h; 60 s if absent or invalid.
fn ttl_from(expires_at: Option<&str>, now: f64) -> Duration {
    let Some(at) =
        expires_at.and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
    else {
        return MIN_TTL;
    };
    let left = at.unix_timestamp() as f64 - now;
    Duration::from_secs_f64(left.clamp(MIN_TTL.as_secs_f64(), MAX_TTL.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_clamped() {
        let now = 1_700_000_000.0;
        assert_eq!(ttl_from(None, now), MIN_TTL);
        assert_eq!(ttl_from(Some("soon"), now), MIN_TTL);
        assert_eq!(ttl_from(Some("2023-11-14T22:13:30Z"), now), MIN_TTL); // 10 s ahead
        assert_eq!(ttl_from(Some("2023-11-14T22:23:20Z"), now), Duration::from_secs(600));
        assert_eq!(ttl_from(Some("2023-11-15T22:13:20+00:00"), now), MAX_TTL);
    }

    #[test]
    fn argument_expressions() {
        assert_eq!(ArgSource::parse("request.body"), Ok(ArgSource::Body));
        assert_eq!(
            ArgSource::parse("request.query[state]"),
            Ok(ArgSource::Query("state".into()))
        );
        assert!(matches!(
            ArgSource::parse("request.headers[X-Api-Key]"),
            Ok(ArgSource::Header(_))
        ));
        assert!(ArgSource::parse("request.path[id]").is_err());
        assert!(ArgSource::parse("request.headers[]").is_err());
    }
}
