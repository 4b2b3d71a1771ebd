//! OCI `ApiSpecification` authentication and route authorization → [`AuthConfig`] / [`Authorization`].
//! Legacy `JWT_AUTHENTICATION` is normalised to `TOKEN_AUTHENTICATION` first (Oracle's migration recipe).

use std::time::Duration;

use fngate_spec::{
    AuthenticationPolicy, CustomAuthenticationPolicy, RouteAuthorizationPolicy, SourceUriDetails, StaticPublicKey,
    TokenAuthenticationPolicy, TokenValidationPolicy, ValidationFailurePolicy,
};

use crate::{
    AuthConfig, AuthConfigError, Authorization, ClaimCheck, CustomConfig, JwtConfig, KeySource, SigningAlgorithm,
    StaticKey, TokenLocation,
};

const PATH: &str = "requestPolicies.authentication";
/// OCI's range for `maxClockSkewInSeconds`.
const MAX_SKEW_SECONDS: f64 = 120.0;
/// OCI's range for `maxCacheDurationInHours`; 1 h when absent.
const CACHE_HOURS: std::ops::RangeInclusive<i64> = 1..=24;

fn err(field: &str, message: impl std::fmt::Display) -> AuthConfigError {
    AuthConfigError(format!("{PATH}.{field}: {message}"))
}

/// Converts the deployment's authentication policy. Errors name the JSON path of the offending field.
pub fn config_from_spec(policy: &AuthenticationPolicy) -> Result<AuthConfig, AuthConfigError> {
    match policy {
        AuthenticationPolicy::Custom(custom) => custom_from_spec(custom).map(AuthConfig::Custom),
        AuthenticationPolicy::Token(token) => token_from_spec(token).map(AuthConfig::Jwt),
        AuthenticationPolicy::Jwt(legacy) => token_from_spec(&legacy.to_token_authentication()).map(AuthConfig::Jwt),
    }
}

/// Converts a route's authorization (`route.authorization()`, which defaults to `AUTHENTICATION_ONLY`).
pub fn authorization_from_spec(policy: &RouteAuthorizationPolicy) -> Authorization {
    match policy {
        RouteAuthorizationPolicy::AuthenticationOnly => Authorization::AuthenticationOnly,
        RouteAuthorizationPolicy::Anonymous => Authorization::Anonymous,
        RouteAuthorizationPolicy::AnyOf(any) => Authorization::AnyOf(any.allowed_scope.clone()),
    }
}

fn token_location(
    header: Option<&String>,
    query: Option<&String>,
    scheme: Option<&String>,
) -> Result<Option<TokenLocation>, AuthConfigError> {
    match (header, query) {
        (Some(_), Some(_)) => Err(err(
            "tokenHeader",
            "tokenHeader and tokenQueryParam are exclusive; give one",
        )),
        (Some(name), None) => Ok(Some(TokenLocation::Header {
            name: name.clone(),
            scheme: scheme.filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_owned()),
        })),
        (None, Some(name)) => Ok(Some(TokenLocation::Query { name: name.clone() })),
        (None, None) => Ok(None),
    }
}

fn cache_duration(hours: Option<i64>, field: &str) -> Result<Duration, AuthConfigError> {
    let hours = hours.unwrap_or(1);
    if !CACHE_HOURS.contains(&hours) {
        return Err(err(field, format!("must be between 1 and 24 hours, got {hours}")));
    }
    Ok(Duration::from_secs(hours as u64 * 3600))
}

fn token_from_spec(policy: &TokenAuthenticationPolicy) -> Result<JwtConfig, AuthConfigError> {
    let location = token_location(
        policy.token_header.as_ref(),
        policy.token_query_param.as_ref(),
        policy.token_auth_scheme.as_ref(),
    )?
    .ok_or_else(|| err("tokenHeader", "one of tokenHeader or tokenQueryParam is required"))?;
    let skew = policy.max_clock_skew_in_seconds.unwrap_or(0.0);
    if !(0.0..=MAX_SKEW_SECONDS).contains(&skew) {
        return Err(err(
            "maxClockSkewInSeconds",
            format!("must be between 0 and 120, got {skew}"),
        ));
    }
    if let Some(ValidationFailurePolicy::OAuth2(_)) = &policy.validation_failure_policy {
        return Err(err(
            "validationFailurePolicy.type",
            "OAUTH2 (OpenID Connect login) is not supported by fngate; use MODIFY_RESPONSE or omit it",
        ));
    }
    let keys = match &policy.validation_policy {
        TokenValidationPolicy::RemoteJwks(remote) => KeySource::RemoteJwks {
            uri: remote.uri.clone(),
            ssl_verify_disabled: remote.is_ssl_verify_disabled.unwrap_or(false),
            max_cache_duration: cache_duration(
                remote.max_cache_duration_in_hours,
                "validationPolicy.maxCacheDurationInHours",
            )?,
        },
        TokenValidationPolicy::StaticKeys(keys) => {
            if keys.keys.is_empty() {
                return Err(err("validationPolicy.keys", "at least one key is required"));
            }
            KeySource::StaticKeys(
                keys.keys
                    .iter()
                    .enumerate()
                    .map(|(i, key)| static_key(key, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        TokenValidationPolicy::RemoteDiscovery(discovery) => {
            let SourceUriDetails::DiscoveryUri(source) = &discovery.source_uri_details else {
                return Err(err(
                    "validationPolicy.sourceUriDetails.type",
                    "must be DISCOVERY_URI in a validation policy",
                ));
            };
            KeySource::RemoteDiscovery {
                uri: source.uri.clone(),
                ssl_verify_disabled: discovery.is_ssl_verify_disabled.unwrap_or(false),
                max_cache_duration: cache_duration(
                    discovery.max_cache_duration_in_hours,
                    "validationPolicy.maxCacheDurationInHours",
                )?,
            }
        }
    };
    let additional = policy
        .validation_policy
        .additional_validation_policy()
        .cloned()
        .unwrap_or_default();
    Ok(JwtConfig {
        location,
        issuers: additional.issuers,
        audiences: additional.audiences,
        verify_claims: additional
            .verify_claims
            .into_iter()
            .map(|c| ClaimCheck {
                key: c.key,
                values: c.values,
                is_required: c.is_required.unwrap_or(false),
            })
            .collect(),
        max_clock_skew: Duration::from_secs_f64(skew),
        is_anonymous_access_allowed: policy.is_anonymous_access_allowed.unwrap_or(false),
        keys,
        algorithms: SigningAlgorithm::DEFAULT_ALLOWED.to_vec(),
    })
}

fn static_key(key: &StaticPublicKey, index: usize) -> Result<StaticKey, AuthConfigError> {
    match key {
        StaticPublicKey::JsonWebKey(jwk) => serde_json::to_value(jwk)
            .map(StaticKey::Jwk)
            .map_err(|e| err(&format!("validationPolicy.keys[{index}]"), e)),
        StaticPublicKey::Pem(pem) => Ok(StaticKey::Pem {
            kid: pem.kid.clone(),
            pem: pem.key.clone(),
        }),
    }
}

fn custom_from_spec(policy: &CustomAuthenticationPolicy) -> Result<CustomConfig, AuthConfigError> {
    if policy.function_id.trim().is_empty() {
        return Err(err("functionId", "is required"));
    }
    let token_location = token_location(policy.token_header.as_ref(), policy.token_query_param.as_ref(), None)?;
    if token_location.is_none() && policy.parameters.is_empty() {
        return Err(err(
            "parameters",
            "give 'parameters' (or the legacy tokenHeader / tokenQueryParam)",
        ));
    }
    if let Some(ValidationFailurePolicy::OAuth2(_)) = &policy.validation_failure_policy {
        return Err(err(
            "validationFailurePolicy.type",
            "OAUTH2 is not allowed with CUSTOM_AUTHENTICATION",
        ));
    }
    Ok(CustomConfig {
        function_id: policy.function_id.clone(),
        token_location,
        parameters: policy.parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        cache_key: policy.cache_key.clone(),
        is_anonymous_access_allowed: policy.is_anonymous_access_allowed.unwrap_or(false),
    })
}
