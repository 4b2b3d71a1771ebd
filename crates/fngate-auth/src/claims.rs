//! Claim checks after the signature is good: types, time window, issuer, audience, `verifyClaims`.
//! Each failure carries OCI's execution-log wording and a short description for the client.

use serde_json::{Map, Value};

use crate::ClaimCheck;

/// Placeholder an issuer may contain; replaced by the token's `tid` (Entra multi-tenant templates).
const TENANT_PLACEHOLDER: &str = "{tenantid}";

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClaimFailure {
    /// For `error_description` (RFC 6750): says what class of problem, never our configuration.
    pub description: &'static str,
    /// OCI execution-log message.
    pub log: String,
}

fn fail(description: &'static str, log: impl Into<String>) -> ClaimFailure {
    ClaimFailure {
        description,
        log: log.into(),
    }
}

/// What a policy requires of the claims.
#[derive(Debug, Clone)]
pub(crate) struct ClaimPolicy {
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub verify_claims: Vec<ClaimCheck>,
    /// `maxClockSkewInSeconds`.
    pub skew: f64,
}

/// A NumericDate (RFC 7519 §2): a JSON number. Strings, booleans and the like are type errors.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, ClaimFailure> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(fail(
                "The access token is malformed",
                format!("Validation failed for '{name}' claim."),
            )),
        },
        Some(_) => Err(fail(
            "The access token is malformed",
            format!("Validation failed for '{name}' claim."),
        )),
    }
}

/// The token's expiry (seconds since the epoch); `exp` is required.
pub(crate) fn expiry(claims: &Map<String, Value>) -> Result<f64, ClaimFailure> {
    numeric_date(claims, "exp")?.ok_or_else(|| {
        fail(
            "The access token has no expiry",
            "JWT token missing required claim 'exp'.",
        )
    })
}

impl ClaimPolicy {
    /// Runs every check; `now` is seconds since the epoch.
    pub(crate) fn check(&self, claims: &Map<String, Value>, now: f64) -> Result<(), ClaimFailure> {
        let exp = expiry(claims)?;
        if now > exp + self.skew {
            return Err(fail("The access token expired", "Validation failed for 'exp' claim."));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now + self.skew < nbf
        {
            return Err(fail(
                "The access token is not valid yet",
                "Validation failed for 'nbf' claim.",
            ));
        }
        if let Some(iat) = numeric_date(claims, "iat")?
            && now + self.skew < iat
        {
            return Err(fail(
                "The access token was issued in the future",
                "Validation failed for 'iat' claim.",
            ));
        }
        self.check_issuer(claims)?;
        self.check_audience(claims)?;
        for check in &self.verify_claims {
            check_claim(claims, check)?;
        }
        Ok(())
    }

    fn check_issuer(&self, claims: &Map<String, Value>) -> Result<(), ClaimFailure> {
        let not_ours = || {
            fail(
                "The access token issuer is not accepted",
                "JWT token not issued by the configured issuers.",
            )
        };
        let iss = match claims.get("iss") {
            None if self.issuers.is_empty() => return Ok(()),
            None => return Err(not_ours()),
            Some(Value::String(iss)) => iss,
            Some(_) => {
                return Err(fail(
                    "The access token is malformed",
                    "Validation failed for 'iss' claim.",
                ));
            }
        };
        if self.issuers.is_empty() {
            return Ok(());
        }
        let tid = claims.get("tid").and_then(Value::as_str).filter(|t| is_tenant_id(t));
        let matches = self.issuers.iter().any(|allowed| {
            if allowed.contains(TENANT_PLACEHOLDER) {
                tid.is_some_and(|tid| *iss == allowed.replace(TENANT_PLACEHOLDER, tid))
            } else {
                iss == allowed
            }
        });
        if matches { Ok(()) } else { Err(not_ours()) }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), ClaimFailure> {
        let not_ours = || {
            fail(
                "The access token audience is not accepted",
                "JWT token not issued for the configured audience.",
            )
        };
        let malformed = || fail("The access token is malformed", "Validation failed for 'aud' claim.");
        let auds: Vec<&str> = match claims.get("aud") {
            None => Vec::new(),
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.as_str().ok_or_else(malformed)?);
                }
                out
            }
            Some(_) => return Err(malformed()),
        };
        if self.audiences.is_empty() {
            return Ok(());
        }
        if auds.iter().any(|a| self.audiences.iter().any(|allowed| allowed == a)) {
            Ok(())
        } else {
            Err(not_ours())
        }
    }
}

/// Entra tenant ids are GUIDs; anything else must not be spliced into an issuer template.
fn is_tenant_id(tid: &str) -> bool {
    tid.len() == 36
        && tid.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// OCI `verifyClaims`: exact string comparison; `isRequired` makes the claim mandatory; with values,
/// a present claim must equal one of them (an array claim: one of its elements must).
fn check_claim(claims: &Map<String, Value>, check: &ClaimCheck) -> Result<(), ClaimFailure> {
    let Some(value) = claims.get(&check.key) else {
        if check.is_required {
            return Err(fail(
                "The access token lacks a required claim",
                format!("JWT token missing required claim '{}'.", check.key),
            ));
        }
        return Ok(());
    };
    if check.values.is_empty() {
        return Ok(());
    }
    let matches = |v: &Value| {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return false,
        };
        check.values.contains(&text)
    };
    let ok = match value {
        Value::Array(items) => items.iter().any(matches),
        other => matches(other),
    };
    if ok {
        Ok(())
    } else {
        Err(fail(
            "The access token has an unexpected claim value",
            format!("JWT token does not have the expected claim value for '{}'.", check.key),
        ))
    }
}

/// Whole-token scopes from `scope` and `scp` (space-separated string or array) and `roles`.
pub(crate) fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in ["scope", "scp", "roles"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn policy() -> ClaimPolicy {
        ClaimPolicy {
            issuers: vec![
                format!("https://sts.windows.net/{TID}/"),
                format!("https://login.microsoftonline.com/{TID}/v2.0"),
            ],
            audiences: vec!["api://fn-gateway".into(), "11111111-2222-3333-4444-555555555555".into()],
            verify_claims: vec![],
            skew: 0.0,
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn good() -> Value {
        json!({"iss": format!("https://login.microsoftonline.com/{TID}/v2.0"), "aud": "api://fn-gateway",
               "exp": 2000.0, "nbf": 1000, "iat": 1000, "tid": TID})
    }

    fn with(extra: Value) -> Map<String, Value> {
        let mut c = claims(good());
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn log_of(r: Result<(), ClaimFailure>) -> String {
        r.err().map(|f| f.log).unwrap_or_default()
    }

    #[test]
    fn time_window_with_skew() {
        let p = policy();
        assert!(p.check(&claims(good()), 1500.0).is_ok());
        assert_eq!(
            log_of(p.check(&claims(good()), 2000.5)),
            "Validation failed for 'exp' claim."
        );
        assert_eq!(
            log_of(p.check(&claims(good()), 999.0)),
            "Validation failed for 'nbf' claim."
        );
        let skewed = ClaimPolicy { skew: 30.0, ..policy() };
        assert!(skewed.check(&claims(good()), 2029.0).is_ok());
        assert!(skewed.check(&claims(good()), 971.0).is_ok());
        assert!(skewed.check(&claims(good()), 2031.0).is_err());
        let future_iat = with(json!({"iat": 1600, "nbf": null}));
        assert_eq!(
            log_of(p.check(&future_iat, 1500.0)),
            "Validation failed for 'iat' claim."
        );
    }

    #[test]
    fn exp_is_required_and_typed() {
        let p = policy();
        assert_eq!(
            log_of(p.check(&with(json!({"exp": null})), 1500.0)),
            "JWT token missing required claim 'exp'."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"exp": "2000"})), 1500.0)),
            "Validation failed for 'exp' claim."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"nbf": "1000"})), 1500.0)),
            "Validation failed for 'nbf' claim."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"iat": true})), 1500.0)),
            "Validation failed for 'iat' claim."
        );
    }

    #[test]
    fn issuer_is_exact_and_both_entra_versions_work() {
        let p = policy();
        assert!(
            p.check(&with(json!({"iss": format!("https://sts.windows.net/{TID}/")})), 1500.0)
                .is_ok()
        );
        for bad in [
            format!("https://sts.windows.net/{TID}"),
            format!("https://login.microsoftonline.com/{TID}/v2.0/"),
            format!("HTTPS://login.microsoftonline.com/{TID}/v2.0"),
        ] {
            assert_eq!(
                log_of(p.check(&with(json!({ "iss": bad })), 1500.0)),
                "JWT token not issued by the configured issuers."
            );
        }
        assert!(p.check(&with(json!({"iss": null})), 1500.0).is_err());
        assert!(p.check(&with(json!({"iss": 5})), 1500.0).is_err());
    }

    #[test]
    fn tenant_template_matches_the_tokens_tid() {
        let p = ClaimPolicy {
            issuers: vec!["https://login.microsoftonline.com/{tenantid}/v2.0".into()],
            ..policy()
        };
        assert!(p.check(&claims(good()), 1500.0).is_ok());
        let other = "00000000-0000-0000-0000-000000000001";
        // iss names another tenant than tid: refused.
        assert!(p.check(&with(json!({"tid": other})), 1500.0).is_err());
        // tid that is not a GUID cannot be spliced in.
        let iss = "https://login.microsoftonline.com/x/v2.0";
        assert!(p.check(&with(json!({"tid": "x", "iss": iss})), 1500.0).is_err());
        assert!(p.check(&with(json!({"tid": null})), 1500.0).is_err());
    }

    #[test]
    fn audience_string_or_array() {
        let p = policy();
        assert!(
            p.check(&with(json!({"aud": ["x", "api://fn-gateway"]})), 1500.0)
                .is_ok()
        );
        assert!(
            p.check(&with(json!({"aud": "11111111-2222-3333-4444-555555555555"})), 1500.0)
                .is_ok()
        );
        for bad in [json!("api://other"), json!(["x"]), json!(null), json!([])] {
            assert_eq!(
                log_of(p.check(&with(json!({ "aud": bad })), 1500.0)),
                "JWT token not issued for the configured audience.",
                "{bad}"
            );
        }
        assert_eq!(
            log_of(p.check(&with(json!({"aud": 7})), 1500.0)),
            "Validation failed for 'aud' claim."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"aud": [7]})), 1500.0)),
            "Validation failed for 'aud' claim."
        );
    }

    #[test]
    fn verify_claims_semantics() {
        let p = ClaimPolicy {
            verify_claims: vec![
                ClaimCheck {
                    key: "azp".into(),
                    values: vec!["client-a".into(), "client-b".into()],
                    is_required: true,
                },
                ClaimCheck {
                    key: "ver".into(),
                    values: vec!["2.0".into()],
                    is_required: false,
                },
                ClaimCheck {
                    key: "oid".into(),
                    values: vec![],
                    is_required: true,
                },
                ClaimCheck {
                    key: "groups".into(),
                    values: vec!["admins".into()],
                    is_required: false,
                },
            ],
            ..policy()
        };
        let ok = with(json!({"azp": "client-b", "oid": "o"}));
        assert!(p.check(&ok, 1500.0).is_ok());
        assert!(
            p.check(&with(json!({"azp": "client-b", "oid": "o", "ver": "2.0"})), 1500.0)
                .is_ok()
        );
        assert_eq!(
            log_of(p.check(&with(json!({"oid": "o"})), 1500.0)),
            "JWT token missing required claim 'azp'."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"azp": "client-bb", "oid": "o"})), 1500.0)),
            "JWT token does not have the expected claim value for 'azp'."
        );
        assert_eq!(
            log_of(p.check(&with(json!({"azp": "client-a", "oid": "o", "ver": "1.0"})), 1500.0)),
            "JWT token does not have the expected claim value for 'ver'."
        );
        assert!(
            p.check(
                &with(json!({"azp": "client-a", "oid": "o", "groups": ["x", "admins"]})),
                1500.0
            )
            .is_ok()
        );
        assert!(
            p.check(
                &with(json!({"azp": "client-a", "oid": "o", "groups": ["superadmins"]})),
                1500.0
            )
            .is_err()
        );
    }

    #[test]
    fn scopes_are_whole_tokens_from_scope_scp_and_roles() {
        let c = claims(json!({"scp": "Functions.Invoke  user_impersonation", "roles": ["Data.Read"], "scope": ["a"]}));
        assert_eq!(
            scopes(&c),
            vec!["Data.Read", "Functions.Invoke", "a", "user_impersonation"]
        );
        assert!(scopes(&claims(json!({"scp": 5}))).is_empty());
    }
}
