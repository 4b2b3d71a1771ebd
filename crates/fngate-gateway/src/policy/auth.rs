//! Authentication (fngate-auth) and route authorization, plus the `MODIFY_RESPONSE` failure
//! policy, which the gateway applies because it owns context variables.

use std::sync::Arc;

use fngate_auth::{AuthOutcome, AuthRejection, AuthRequest, Authenticator, Authorization, Principal};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};

use crate::context::{RequestContext, Template};
use crate::policy::transform::HeaderTransforms;
use crate::respond::Rejection;

/// A deployment's authentication policy, ready for requests.
pub(crate) struct AuthPolicy {
    pub authenticator: Arc<Authenticator>,
    pub failure: Option<ModifyResponse>,
}

/// `validationFailurePolicy: MODIFY_RESPONSE`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModifyResponse {
    pub code: Option<Template>,
    pub message: Option<Template>,
    pub headers: HeaderTransforms,
}

/// Authenticates the request and applies the route's authorization. `Ok(None)` is an anonymous
/// caller the route admits; `Err` is the ready rejection (failure policy applied).
pub(crate) async fn authenticate(
    policy: &AuthPolicy,
    head: &http::request::Parts,
    realm: &str,
    authorization: &Authorization,
    ctx_without_auth: &RequestContext<'_>,
) -> Result<Option<Principal>, Rejection> {
    let outcome = policy
        .authenticator
        .authenticate(AuthRequest { head, body: &[], realm })
        .await;
    let result = match &outcome {
        AuthOutcome::Rejected(rejection) => Err(rejection.clone()),
        _ => fngate_auth::authorize_in_realm(&outcome, authorization, realm),
    };
    match (result, outcome) {
        (Ok(()), AuthOutcome::Authenticated(principal)) => Ok(Some(principal)),
        (Ok(()), _) => Ok(None),
        (Err(rejection), _) => Err(reject(policy.failure.as_ref(), rejection, ctx_without_auth)),
    }
}

fn reject(failure: Option<&ModifyResponse>, rejection: AuthRejection, ctx: &RequestContext<'_>) -> Rejection {
    let mut out = Rejection::new(rejection.status, "authentication").with_message(rejection.message.clone());
    if let Some(value) = rejection
        .www_authenticate
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        out.headers.insert(WWW_AUTHENTICATE, value);
    }
    // Server-side failures (JWKS unreachable: 500, authorizer down: 502) are not "validation
    // failures" and keep their status.
    let is_validation_failure = rejection.status.is_client_error();
    if let Some(policy) = failure.filter(|_| is_validation_failure) {
        if let Some(code) = &policy.code {
            match ctx
                .render(code)
                .trim()
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
            {
                Some(status) if (200..=599).contains(&status.as_u16()) => out.status = status,
                _ => tracing::warn!(
                    target: "fngate::gateway::auth",
                    "validationFailurePolicy.responseCode did not render to a status code; keeping {}",
                    out.status.as_u16()
                ),
            }
        }
        if let Some(message) = &policy.message {
            out.message = Some(ctx.render(message));
        }
        policy.headers.apply(&mut out.headers, ctx);
    }
    out
}
