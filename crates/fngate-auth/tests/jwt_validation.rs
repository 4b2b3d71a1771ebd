//! The good/bad token matrix against a real JWKS server, with Entra v1 and v2 shaped tokens.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fngate_auth::{
    AuthOutcome, AuthService, Authorization, ClaimCheck, KeySource, SigningAlgorithm, StaticKey, TokenLocation,
    authorize_in_realm,
};
use http::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::*;

fn set(claims: &Value, changes: Value) -> Value {
    let mut c = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
    }
    c
}

#[tokio::test]
async fn entra_v1_and_v2_tokens_are_accepted_and_claims_exposed() {
    let [k1, k2, _, _] = keys();
    let server = JwksServer::start(&[k1, k2]).await;
    let service = AuthService::new(None);
    let auth = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();

    let v2 = principal(&with_bearer(&auth, &rs256(k1, &entra_v2_claims())).await).clone();
    assert_eq!(v2.claims["ver"], "2.0");
    assert_eq!(v2.claims["azp"], CLIENT_ID);
    assert_eq!(v2.scopes, vec!["Data.Read"]);

    // v1 header carries x5t like Entra's.
    let v1_token = sign(k2, Algorithm::RS256, &entra_v1_claims(), json!({"x5t": "key-2"}));
    let v1 = principal(&with_bearer(&auth, &v1_token).await).clone();
    assert_eq!(v1.claims["unique_name"], "abe@contoso.com");
    assert_eq!(v1.scopes, vec!["Functions.Invoke", "user_impersonation"]);
    assert_eq!(server.jwks_hits(), 1, "keys fetched once at build");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_invalid_token() {
    let [k1, _, attacker, ec] = keys();
    let server = JwksServer::start(&[k1, ec]).await;
    let service = AuthService::new(None);
    let auth = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    let good = entra_v2_claims();
    let now = now();
    let hs_with_public_key = |claims: &Value| {
        let secret = jsonwebtoken::EncodingKey::from_secret(k1.public_pem.as_bytes());
        sign_raw(&json!({"alg":"HS256","typ":"JWT","kid":"key-1"}), claims, |input| {
            jsonwebtoken::crypto::sign(input, &secret, Algorithm::HS256).unwrap()
        })
    };
    let tampered = {
        let t = rs256(k1, &good);
        let parts: Vec<&str> = t.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(set(&good, json!({"roles": ["Admin"]})).to_string());
        format!("{}.{}.{}", parts[0], evil, parts[2])
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            rs256(k1, &set(&good, json!({"exp": now - 5}))),
            "Validation failed for 'exp' claim.",
        ),
        (
            "not yet valid",
            rs256(k1, &set(&good, json!({"nbf": now + 120}))),
            "Validation failed for 'nbf' claim.",
        ),
        (
            "issued in the future",
            rs256(k1, &set(&good, json!({"iat": now + 120, "nbf": null}))),
            "Validation failed for 'iat' claim.",
        ),
        (
            "no exp",
            rs256(k1, &set(&good, json!({"exp": null}))),
            "JWT token missing required claim 'exp'.",
        ),
        (
            "string exp",
            rs256(k1, &set(&good, json!({"exp": (now + 600).to_string()}))),
            "Validation failed for 'exp' claim.",
        ),
        (
            "wrong issuer",
            rs256(
                k1,
                &set(&good, json!({"iss": "https://login.microsoftonline.com/common/v2.0"})),
            ),
            "JWT token not issued by the configured issuers.",
        ),
        (
            "issuer differs in case",
            rs256(k1, &set(&good, json!({"iss": v2_issuer().to_uppercase()}))),
            "JWT token not issued by the configured issuers.",
        ),
        (
            "no issuer",
            rs256(k1, &set(&good, json!({"iss": null}))),
            "JWT token not issued by the configured issuers.",
        ),
        (
            "wrong audience",
            rs256(k1, &set(&good, json!({"aud": "api://other"}))),
            "JWT token not issued for the configured audience.",
        ),
        (
            "audience array without ours",
            rs256(k1, &set(&good, json!({"aud": ["api://a", "api://b"]}))),
            "JWT token not issued for the configured audience.",
        ),
        (
            "no audience",
            rs256(k1, &set(&good, json!({"aud": null}))),
            "JWT token not issued for the configured audience.",
        ),
        (
            "signed by another key under a trusted kid",
            rs256(&TestKeyAlias::as_kid(attacker, "key-1"), &good),
            "JWT token signature validation failed.",
        ),
        (
            "unknown kid",
            rs256(attacker, &good),
            "JWT token signed with a key that is not among the trusted keys.",
        ),
        ("tampered payload", tampered, "JWT token signature validation failed."),
        (
            "alg none",
            sign_raw(&json!({"alg":"none","kid":"key-1"}), &good, |_| String::new()),
            "JWT token has an empty part.",
        ),
        (
            "alg none with a signature",
            sign_raw(&json!({"alg":"none","kid":"key-1"}), &good, |_| "AAAA".into()),
            "JWT token signed with algorithm 'none', which the policy does not allow.",
        ),
        (
            "HS256 with the RSA public key as secret",
            hs_with_public_key(&good),
            "JWT token signed with algorithm 'HS256', which the policy does not allow.",
        ),
        (
            "ES256 token naming an RSA key",
            sign(&TestKeyAlias::as_kid(ec, "key-1"), Algorithm::ES256, &good, json!({})),
            "JWT token signed with a key that is not among the trusted keys.",
        ),
        (
            "RS256 token naming an EC key",
            rs256(&TestKeyAlias::as_kid(k1, "ec-1"), &good),
            "JWT token signed with a key that is not among the trusted keys.",
        ),
        (
            "no kid",
            sign(k1, Algorithm::RS256, &good, json!({"kid": null})),
            "JWT token header has no 'kid'.",
        ),
        (
            "crit header",
            sign(k1, Algorithm::RS256, &good, json!({"crit": ["exp"], "exp": 1})),
            "JWT token header has a 'crit' member, which is not supported.",
        ),
        (
            "embedded jwk of the attacker",
            sign(attacker, Algorithm::RS256, &good, json!({"jwk": attacker.jwk})),
            "JWT token signed with a key that is not among the trusted keys.",
        ),
        (
            "jku pointing at the attacker",
            sign(
                attacker,
                Algorithm::RS256,
                &good,
                json!({"jku": "https://evil.example/keys"}),
            ),
            "JWT token signed with a key that is not among the trusted keys.",
        ),
        (
            "two parts",
            {
                let t = rs256(k1, &good);
                t[..t.rfind('.').unwrap()].to_string()
            },
            "JWT token is not a compact JWS with three parts.",
        ),
        (
            "padding inside the token",
            {
                let t = rs256(k1, &good);
                let (a, b) = t.split_once('.').unwrap();
                format!("{a}=.{b}")
            },
            "JWT token is not a valid bearer token.",
        ),
        (
            "padded signature",
            format!("{}=", rs256(k1, &good)),
            "JWT token signature is not base64url.",
        ),
        (
            "standard base64 alphabet",
            {
                let t = rs256(k1, &good);
                format!("{}+", &t[..t.len() - 1])
            },
            "JWT token signature is not base64url.",
        ),
        (
            "duplicate claim",
            sign_raw(&json!({"alg":"RS256","kid":"key-1"}), &json!("DUP"), |_| "AAAA".into()).replace(
                &URL_SAFE_NO_PAD.encode("\"DUP\""),
                &URL_SAFE_NO_PAD.encode(r#"{"exp":1,"exp":2}"#),
            ),
            "JWT token payload is not a JSON object: duplicate member 'exp' at line 1 column 17.",
        ),
        (
            "oversized",
            rs256(k1, &set(&good, json!({"pad": "x".repeat(20_000)}))),
            "JWT token is larger than 16384 bytes.",
        ),
        (
            "not a JWS at all",
            "opaque-token".into(),
            "JWT token is not a compact JWS with three parts.",
        ),
    ];
    for (name, token, log) in cases {
        let outcome = with_bearer(&auth, &token).await;
        let r = rejected(&outcome);
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(r.log_message, log, "{name}");
        let challenge = r.www_authenticate.as_deref().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="api.example.com", error="invalid_token", error_description=""#),
            "{name}: {challenge}"
        );
        assert!(
            !challenge.contains("fn-gateway") && !challenge.contains(TENANT),
            "{name} leaks configuration: {challenge}"
        );
        assert_eq!(r.message, "Unauthorized");
    }
    // A flood of bad tokens never turned into more than the rate-limited refetches.
    assert!(server.jwks_hits() <= 2, "hits {}", server.jwks_hits());
}

/// Re-labels a key under another kid (to forge "signed by someone else but names our kid").
struct TestKeyAlias;
impl TestKeyAlias {
    fn as_kid(key: &TestKey, kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            ..key.clone()
        }
    }
}

#[tokio::test]
async fn foreign_headers_are_ignored_when_the_key_is_ours() {
    let [k1, _, attacker, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let auth = AuthService::new(None)
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    let token = sign(
        k1,
        Algorithm::RS256,
        &entra_v2_claims(),
        json!({"jku": "https://evil.example/keys", "x5u": "https://evil.example/c", "jwk": attacker.jwk, "x5c": ["MIIB"]}),
    );
    principal(&with_bearer(&auth, &token).await);
}

#[tokio::test]
async fn algorithm_allow_list_is_per_policy() {
    let [k1, _, _, ec] = keys();
    let server = JwksServer::start(&[k1, ec]).await;
    let service = AuthService::new(None);
    let all = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    let claims = entra_v2_claims();
    for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        principal(&with_bearer(&all, &sign(k1, alg, &claims, json!({}))).await);
    }
    principal(&with_bearer(&all, &sign(ec, Algorithm::ES256, &claims, json!({}))).await);
    let ps384 = sign(k1, Algorithm::PS384, &claims, json!({}));
    assert_eq!(
        rejected(&with_bearer(&all, &ps384).await).status,
        StatusCode::UNAUTHORIZED
    );

    let mut rs256_only = jwt_config(remote(server.jwks_uri()));
    rs256_only.algorithms = vec![SigningAlgorithm::RS256];
    let strict = service.build(wrap(rs256_only)).await.unwrap();
    principal(&with_bearer(&strict, &rs256(k1, &claims)).await);
    for token in [
        sign(k1, Algorithm::RS512, &claims, json!({})),
        sign(ec, Algorithm::ES256, &claims, json!({})),
    ] {
        let outcome = with_bearer(&strict, &token).await;
        assert!(
            rejected(&outcome)
                .log_message
                .contains("which the policy does not allow")
        );
    }
    // Both policies share one JWKS cache for the URI.
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn jwk_alg_pins_the_algorithm() {
    let [k1, _, _, _] = keys();
    let server = JwksServer::start(&[]).await;
    let mut jwk = k1.jwk.clone();
    jwk["alg"] = json!("RS256");
    server.publish_raw(json!({"keys": [jwk]}));
    let auth = AuthService::new(None)
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    principal(&with_bearer(&auth, &rs256(k1, &entra_v2_claims())).await);
    let ps = sign(k1, Algorithm::PS256, &entra_v2_claims(), json!({}));
    assert_eq!(
        rejected(&with_bearer(&auth, &ps).await).status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn token_location_rules() {
    let [k1, _, _, _] = keys();
    let service = AuthService::new(None);
    let keys = KeySource::StaticKeys(vec![StaticKey::Jwk(k1.jwk.clone())]);
    let auth = service.build(wrap(jwt_config(keys.clone()))).await.unwrap();
    let token = rs256(k1, &entra_v2_claims());

    // No token: 401, bare challenge with no error code.
    let none = call(&auth, &request("/", &[])).await;
    let r = rejected(&none);
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="api.example.com""#));
    // Another scheme is no bearer token either.
    let basic = call(&auth, &request("/", &[("authorization", "Basic dXNlcjpwYXNz")])).await;
    assert_eq!(
        rejected(&basic).www_authenticate.as_deref(),
        Some(r#"Bearer realm="api.example.com""#)
    );
    // Scheme is case-insensitive.
    principal(&call(&auth, &request("/", &[("authorization", &format!("bEaReR {token}"))])).await);
    // Header and query both: 400 invalid_request.
    let both = call(
        &auth,
        &request(
            &format!("/?access_token={token}"),
            &[("authorization", &format!("Bearer {token}"))],
        ),
    )
    .await;
    let r = rejected(&both);
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.www_authenticate
            .as_deref()
            .unwrap()
            .contains(r#"error="invalid_request""#)
    );
    // Non-token characters: invalid_token.
    let junk = call(&auth, &request("/", &[("authorization", "Bearer a,b")])).await;
    assert!(
        rejected(&junk)
            .www_authenticate
            .as_deref()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );

    // Query-parameter policy.
    let mut by_query = jwt_config(keys);
    by_query.location = TokenLocation::Query { name: "token".into() };
    let auth = service.build(wrap(by_query)).await.unwrap();
    principal(&call(&auth, &request(&format!("/f?token={token}"), &[])).await);
    let both = call(
        &auth,
        &request(
            &format!("/f?token={token}"),
            &[("authorization", &format!("Bearer {token}"))],
        ),
    )
    .await;
    assert_eq!(rejected(&both).status, StatusCode::BAD_REQUEST);
    let twice = call(&auth, &request(&format!("/f?token={token}&token={token}"), &[])).await;
    assert_eq!(rejected(&twice).status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn anonymous_access_admits_missing_tokens_only() {
    let [k1, _, _, _] = keys();
    let mut config = jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(k1.jwk.clone())]));
    config.is_anonymous_access_allowed = true;
    let auth = AuthService::new(None).build(wrap(config)).await.unwrap();
    assert!(auth.is_anonymous_access_allowed());
    let anon = call(&auth, &request("/", &[])).await;
    assert!(matches!(anon, AuthOutcome::Anonymous));
    assert!(authorize_in_realm(&anon, &Authorization::Anonymous, REALM).is_ok());
    let err = authorize_in_realm(&anon, &Authorization::AuthenticationOnly, REALM).unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    // A bad token is still refused, even on an anonymous route.
    let expired = rs256(k1, &set(&entra_v2_claims(), json!({"exp": now() - 10})));
    let outcome = with_bearer(&auth, &expired).await;
    assert_eq!(
        authorize_in_realm(&outcome, &Authorization::Anonymous, REALM)
            .unwrap_err()
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn static_pem_keys_verify() {
    let [k1, k2, _, _] = keys();
    let config = jwt_config(KeySource::StaticKeys(vec![
        StaticKey::Pem {
            kid: "key-1".into(),
            pem: k1.public_pem.clone(),
        },
        StaticKey::Jwk(k2.jwk.clone()),
    ]));
    let auth = AuthService::new(None).build(wrap(config)).await.unwrap();
    principal(&with_bearer(&auth, &rs256(k1, &entra_v2_claims())).await);
    principal(&with_bearer(&auth, &rs256(k2, &entra_v1_claims())).await);
    // A bad static key is a deployment error, with its position.
    let bad = jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(
        json!({"kty":"oct","kid":"h","k":"c2VjcmV0"}),
    )]));
    let err = AuthService::new(None).build(wrap(bad)).await.err().unwrap();
    assert!(
        err.0.starts_with("keys[0]: kid 'h': key type 'oct' is not supported"),
        "{err}"
    );
}

#[tokio::test]
async fn clock_skew_applies_to_exp_and_nbf() {
    let [k1, _, _, _] = keys();
    let mut config = jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(k1.jwk.clone())]));
    config.max_clock_skew = Duration::from_secs(60);
    let auth = AuthService::new(None).build(wrap(config)).await.unwrap();
    let now = now();
    principal(&with_bearer(&auth, &rs256(k1, &set(&entra_v2_claims(), json!({"exp": now - 30})))).await);
    principal(&with_bearer(&auth, &rs256(k1, &set(&entra_v2_claims(), json!({"nbf": now + 30})))).await);
    rejected(&with_bearer(&auth, &rs256(k1, &set(&entra_v2_claims(), json!({"exp": now - 90})))).await);
    rejected(&with_bearer(&auth, &rs256(k1, &set(&entra_v2_claims(), json!({"nbf": now + 90})))).await);
}

#[tokio::test]
async fn tenant_template_issuer_and_verify_claims() {
    let [k1, _, _, _] = keys();
    let mut config = jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(k1.jwk.clone())]));
    config.issuers = vec!["https://login.microsoftonline.com/{tenantid}/v2.0".into()];
    config.verify_claims = vec![ClaimCheck {
        key: "azp".into(),
        values: vec![CLIENT_ID.into()],
        is_required: true,
    }];
    let auth = AuthService::new(None).build(wrap(config)).await.unwrap();
    let other_tenant = "00000000-1111-2222-3333-444444444444";
    let claims = set(
        &entra_v2_claims(),
        json!({"tid": other_tenant, "iss": format!("https://login.microsoftonline.com/{other_tenant}/v2.0")}),
    );
    principal(&with_bearer(&auth, &rs256(k1, &claims)).await);
    // iss of one tenant, tid of another: refused.
    let mixed = set(&claims, json!({"tid": TENANT}));
    rejected(&with_bearer(&auth, &rs256(k1, &mixed)).await);
    let wrong_client = set(&claims, json!({"azp": "someone-else"}));
    let outcome = with_bearer(&auth, &rs256(k1, &wrong_client)).await;
    assert_eq!(
        rejected(&outcome).log_message,
        "JWT token does not have the expected claim value for 'azp'."
    );
    let no_client = set(&claims, json!({"azp": null}));
    let outcome = with_bearer(&auth, &rs256(k1, &no_client)).await;
    assert_eq!(
        rejected(&outcome).log_message,
        "JWT token missing required claim 'azp'."
    );
}

#[tokio::test]
async fn any_of_uses_scp_and_roles_as_whole_tokens() {
    let [k1, _, _, _] = keys();
    let auth = AuthService::new(None)
        .build(wrap(jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(
            k1.jwk.clone(),
        )]))))
        .await
        .unwrap();
    let needs = Authorization::AnyOf(vec!["Functions.Invoke".into()]);
    let user = with_bearer(&auth, &rs256(k1, &entra_v1_claims())).await; // scp "user_impersonation Functions.Invoke"
    assert!(authorize_in_realm(&user, &needs, REALM).is_ok());
    let app = with_bearer(
        &auth,
        &rs256(k1, &set(&entra_v2_claims(), json!({"roles": ["Functions.Invoke"]}))),
    )
    .await;
    assert!(authorize_in_realm(&app, &needs, REALM).is_ok());
    let scope_claim = with_bearer(
        &auth,
        &rs256(
            k1,
            &set(
                &entra_v2_claims(),
                json!({"roles": null, "scope": "a Functions.Invoke"}),
            ),
        ),
    )
    .await;
    assert!(authorize_in_realm(&scope_claim, &needs, REALM).is_ok());
    let near_miss = with_bearer(
        &auth,
        &rs256(
            k1,
            &set(
                &entra_v2_claims(),
                json!({"roles": ["Functions.Invoke.All"], "scp": "Functions"}),
            ),
        ),
    )
    .await;
    let err = authorize_in_realm(&near_miss, &needs, REALM).unwrap_err();
    assert_eq!(err.status, StatusCode::FORBIDDEN);
    assert!(err.www_authenticate.unwrap().ends_with(r#"scope="Functions.Invoke""#));
}

#[tokio::test]
async fn cached_tokens_never_outlive_exp() {
    let [k1, _, _, _] = keys();
    let auth = AuthService::new(None)
        .build(wrap(jwt_config(KeySource::StaticKeys(vec![StaticKey::Jwk(
            k1.jwk.clone(),
        )]))))
        .await
        .unwrap();
    let token = rs256(k1, &set(&entra_v2_claims(), json!({"exp": now() + 2})));
    principal(&with_bearer(&auth, &token).await);
    principal(&with_bearer(&auth, &token).await);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let outcome = with_bearer(&auth, &token).await;
    assert_eq!(rejected(&outcome).log_message, "Validation failed for 'exp' claim.");
}
