//! Spec authentication policy → `fngate_auth::AuthConfig`.
//!
//! Interim bridge written by the gateway while fngate-auth's own conversion was not yet
//! available; it covers TOKEN_AUTHENTICATION (and legacy JWT_AUTHENTICATION, normalised),
//! REMOTE_JWKS / STATIC_KEYS / REMOTE_DISCOVERY, and CUSTOM_AUTHENTICATION.

use std::time::Duration;

use fngate_auth::{
    AuthConfig, ClaimCheck, CustomConfig, JwtConfig, KeySource, SigningAlgorithm, StaticKey, TokenLocation,
};
use fngate_invoke::FunctionInvoker;
use fngate_spec as spec;

type FieldError = (String, String);

/// The auth configuration and the `MODIFY_RESPONSE` failure policy (applied by the gateway).
pub(crate) fn auth_config(
    policy: &spec::AuthenticationPolicy,
    invoker: Option<&dyn FunctionInvoker>,
) -> Result<(AuthConfig, Option<spec::ModifyResponseValidationFailurePolicy>), FieldError> {
    match policy {
        spec::AuthenticationPolicy::Custom(c) => {
            let function_id = match invoker {
                Some(invoker) => invoker.resolve(&c.function_id).map(|r| r.fn_id).ok_or_else(|| {
                    (
                        "functionId".to_string(),
                        format!("no function {:?} for the authorizer", c.function_id),
                    )
                })?,
                None => c.function_id.clone(),
            };
            let token_location = location(c.token_header.as_deref(), c.token_query_param.as_deref(), None);
            let failure = failure_policy(c.validation_failure_policy.as_ref())?;
            Ok((
                AuthConfig::Custom(CustomConfig {
                    function_id,
                    token_location,
                    parameters: c.parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    cache_key: c.cache_key.clone(),
                    is_anonymous_access_allowed: c.is_anonymous_access_allowed.unwrap_or(false),
                }),
                failure,
            ))
        }
        other => {
            let token = other
                .token_authentication()
                .ok_or_else(|| ("type".to_string(), "unsupported authentication type".to_string()))?;
            let location = location(
                token.token_header.as_deref(),
                token.token_query_param.as_deref(),
                token.token_auth_scheme.as_deref(),
            )
            .ok_or_else(|| {
                (
                    "tokenHeader".to_string(),
                    "give tokenHeader or tokenQueryParam".to_string(),
                )
            })?;
            let hours =
                |h: Option<i64>| Duration::from_secs(3600 * u64::try_from(h.unwrap_or(1).clamp(1, 24)).unwrap_or(1));
            let keys = match &token.validation_policy {
                spec::TokenValidationPolicy::RemoteJwks(r) => KeySource::RemoteJwks {
                    uri: r.uri.clone(),
                    ssl_verify_disabled: r.is_ssl_verify_disabled.unwrap_or(false),
                    max_cache_duration: hours(r.max_cache_duration_in_hours),
                },
                spec::TokenValidationPolicy::StaticKeys(s) => KeySource::StaticKeys(
                    s.keys
                        .iter()
                        .map(|k| match k {
                            spec::StaticPublicKey::JsonWebKey(jwk) => {
                                StaticKey::Jwk(serde_json::to_value(jwk).unwrap_or_default())
                            }
                            spec::StaticPublicKey::Pem(pem) => StaticKey::Pem {
                                kid: pem.kid.clone(),
                                pem: pem.key.clone(),
                            },
                        })
                        .collect(),
                ),
                spec::TokenValidationPolicy::RemoteDiscovery(d) => match &d.source_uri_details {
                    spec::SourceUriDetails::DiscoveryUri(u) => KeySource::RemoteDiscovery {
                        uri: u.uri.clone(),
                        ssl_verify_disabled: d.is_ssl_verify_disabled.unwrap_or(false),
                        max_cache_duration: hours(d.max_cache_duration_in_hours),
                    },
                    spec::SourceUriDetails::ValidationBlock => {
                        return Err((
                            "validationPolicy.sourceUriDetails".to_string(),
                            "VALIDATION_BLOCK needs the OAUTH2 failure policy, which fngate does not support"
                                .to_string(),
                        ));
                    }
                },
            };
            let extra = token
                .validation_policy
                .additional_validation_policy()
                .cloned()
                .unwrap_or_default();
            let failure = failure_policy(token.validation_failure_policy.as_ref())?;
            Ok((
                AuthConfig::Jwt(JwtConfig {
                    location,
                    issuers: extra.issuers.clone(),
                    audiences: extra.audiences.clone(),
                    verify_claims: extra
                        .verify_claims
                        .iter()
                        .map(|c| ClaimCheck {
                            key: c.key.clone(),
                            values: c.values.clone(),
                            is_required: c.is_required.unwrap_or(false),
                        })
                        .collect(),
                    max_clock_skew: Duration::try_from_secs_f64(
                        token.max_clock_skew_in_seconds.unwrap_or(0.0).clamp(0.0, 120.0),
                    )
                    .unwrap_or_default(),
                    is_anonymous_access_allowed: token.is_anonymous_access_allowed.unwrap_or(false),
                    keys,
                    algorithms: SigningAlgorithm::DEFAULT_ALLOWED.to_vec(),
                }),
                failure,
            ))
        }
    }
}

fn location(header: Option<&str>, query: Option<&str>, scheme: Option<&str>) -> Option<TokenLocation> {
    match (header, query) {
        (Some(name), _) => Some(TokenLocation::Header {
            name: name.to_string(),
            scheme: scheme.map(str::to_string),
        }),
        (None, Some(name)) => Some(TokenLocation::Query { name: name.to_string() }),
        (None, None) => None,
    }
}

fn failure_policy(
    policy: Option<&spec::ValidationFailurePolicy>,
) -> Result<Option<spec::ModifyResponseValidationFailurePolicy>, FieldError> {
    match policy {
        None => Ok(None),
        Some(spec::ValidationFailurePolicy::ModifyResponse(m)) => Ok(Some(m.clone())),
        Some(spec::ValidationFailurePolicy::OAuth2(_)) => Err((
            "validationFailurePolicy".to_string(),
            "OAUTH2 (OIDC login redirect) is not supported by fngate; use MODIFY_RESPONSE or none".to_string(),
        )),
    }
}
