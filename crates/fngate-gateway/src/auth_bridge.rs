//! Spec authentication policy → `fngate_auth::AuthConfig` (fngate-auth's `config_from_spec`),
//! plus what the gateway does itself: resolving an authorizer function through the invoker and
//! extracting the `MODIFY_RESPONSE` failure policy (the gateway owns context variables).

use fngate_auth::AuthConfig;
use fngate_invoke::FunctionInvoker;
use fngate_spec as spec;

/// (JSON path below `requestPolicies.authentication`, message).
type FieldError = (String, String);

const PATH: &str = "requestPolicies.authentication";

pub(crate) fn auth_config(
    policy: &spec::AuthenticationPolicy,
    invoker: Option<&dyn FunctionInvoker>,
) -> Result<(AuthConfig, Option<spec::ModifyResponseValidationFailurePolicy>), FieldError> {
    let mut config = fngate_auth::config_from_spec(policy).map_err(|e| split(&e.0))?;
    if let (AuthConfig::Custom(custom), Some(invoker)) = (&mut config, invoker) {
        custom.function_id = invoker.resolve(&custom.function_id).map(|r| r.fn_id).ok_or_else(|| {
            (
                "functionId".to_string(),
                format!(
                    "no function {:?} for the authorizer (give a function id or app/function)",
                    custom.function_id
                ),
            )
        })?;
    }
    let failure = match policy {
        spec::AuthenticationPolicy::Token(t) => t.validation_failure_policy.as_ref(),
        spec::AuthenticationPolicy::Custom(c) => c.validation_failure_policy.as_ref(),
        spec::AuthenticationPolicy::Jwt(_) => None,
    };
    let failure = match failure {
        Some(spec::ValidationFailurePolicy::ModifyResponse(m)) => Some(m.clone()),
        Some(spec::ValidationFailurePolicy::OAuth2(_)) => {
            return Err((
                "validationFailurePolicy.type".into(),
                "OAUTH2 (OpenID Connect login) is not supported by fngate; use MODIFY_RESPONSE or omit it".into(),
            ));
        }
        None => None,
    };
    Ok((config, failure))
}

/// fngate-auth reports `requestPolicies.authentication.<field>: <message>`.
fn split(text: &str) -> FieldError {
    match text.split_once(": ") {
        Some((path, message)) if path.starts_with(PATH) => (
            path.trim_start_matches(PATH).trim_start_matches('.').to_string(),
            message.to_string(),
        ),
        _ => (String::new(), text.to_string()),
    }
}
