//! Route `authorization`: AUTHENTICATION_ONLY, ANONYMOUS, ANY_OF (whole-token scope match).

use crate::{AuthConfigError, AuthOutcome, AuthRejection, Authorization, challenge};

/// Realm used by [`authorize`], which has no request at hand; prefer [`authorize_in_realm`].
const DEFAULT_REALM: &str = "fngate";

/// Applies a route's authorization policy to the outcome of authentication.
pub fn authorize(outcome: &AuthOutcome, policy: &Authorization) -> Result<(), AuthRejection> {
    authorize_in_realm(outcome, policy, DEFAULT_REALM)
}

/// Like [`authorize`], naming `realm` in the challenge of a 401/403.
///
/// - A rejected authentication stays rejected (its own status and challenge).
/// - `ANONYMOUS` admits anonymous and authenticated callers alike.
/// - `AUTHENTICATION_ONLY` admits any authenticated caller; an anonymous one gets 401.
/// - `ANY_OF` admits a caller holding at least one listed scope (exact, whole-token match against
///   `scope`, `scp` and `roles`); otherwise 403 `insufficient_scope` naming the scopes.
pub fn authorize_in_realm(outcome: &AuthOutcome, policy: &Authorization, realm: &str) -> Result<(), AuthRejection> {
    match (outcome, policy) {
        (AuthOutcome::Rejected(rejection), _) => Err(rejection.clone()),
        (_, Authorization::Anonymous) => Ok(()),
        (AuthOutcome::Anonymous, _) => Err(challenge::missing_token(
            realm,
            "Route requires authentication and the request carries no token.",
        )),
        (AuthOutcome::Authenticated(_), Authorization::AuthenticationOnly) => Ok(()),
        (AuthOutcome::Authenticated(principal), Authorization::AnyOf(required)) => {
            if required
                .iter()
                .any(|scope| principal.scopes.iter().any(|held| held == scope))
            {
                Ok(())
            } else {
                Err(challenge::insufficient_scope(realm, required))
            }
        }
    }
}

/// Deployment-time check: `ANONYMOUS` routes need a policy that allows anonymous access, and `ANY_OF`
/// needs at least one scope (as OCI refuses such specs).
pub fn check_route_authorization(anonymous_allowed: bool, policy: &Authorization) -> Result<(), AuthConfigError> {
    match policy {
        Authorization::Anonymous if !anonymous_allowed => Err(AuthConfigError(
            "authorization type ANONYMOUS requires isAnonymousAccessAllowed: true in the authentication policy".into(),
        )),
        Authorization::AnyOf(scopes) if scopes.is_empty() => Err(AuthConfigError(
            "authorization type ANY_OF needs at least one allowedScope".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;
    use http::StatusCode;

    fn authed(scopes: &[&str]) -> AuthOutcome {
        AuthOutcome::Authenticated(Principal {
            claims: Default::default(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn any_of_matches_whole_tokens_only() {
        let policy = Authorization::AnyOf(vec!["admin".into(), "Functions.Invoke".into()]);
        assert!(authorize(&authed(&["Functions.Invoke"]), &policy).is_ok());
        assert!(authorize(&authed(&["x", "admin"]), &policy).is_ok());
        for held in [
            &["superadmin"][..],
            &["Functions.Invoke.All"],
            &["functions.invoke"],
            &[],
        ] {
            let err = authorize_in_realm(&authed(held), &policy, "api.example.com").unwrap_err();
            assert_eq!(err.status, StatusCode::FORBIDDEN, "{held:?}");
            assert_eq!(
                err.www_authenticate.as_deref(),
                Some(
                    r#"Bearer realm="api.example.com", error="insufficient_scope", error_description="The access token does not carry a required scope", scope="admin Functions.Invoke""#
                )
            );
        }
    }

    #[test]
    fn anonymous_outcomes() {
        assert!(authorize(&AuthOutcome::Anonymous, &Authorization::Anonymous).is_ok());
        assert!(authorize(&authed(&[]), &Authorization::Anonymous).is_ok());
        let err = authorize_in_realm(&AuthOutcome::Anonymous, &Authorization::AuthenticationOnly, "h").unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert_eq!(err.www_authenticate.as_deref(), Some(r#"Bearer realm="h""#));
        let err = authorize(&AuthOutcome::Anonymous, &Authorization::AnyOf(vec!["a".into()])).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(authorize(&authed(&[]), &Authorization::AuthenticationOnly).is_ok());
    }

    #[test]
    fn rejections_pass_through_even_on_anonymous_routes() {
        let rejected = AuthOutcome::Rejected(challenge::invalid_token("h", "bad", "log"));
        let err = authorize(&rejected, &Authorization::Anonymous).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn route_checks() {
        assert!(check_route_authorization(false, &Authorization::Anonymous).is_err());
        assert!(check_route_authorization(true, &Authorization::Anonymous).is_ok());
        assert!(check_route_authorization(false, &Authorization::AnyOf(vec![])).is_err());
        assert!(check_route_authorization(false, &Authorization::AuthenticationOnly).is_ok());
    }
}
