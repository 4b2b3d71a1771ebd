//! Authentication through fngate-auth in the policy chain: 401 challenges, claims in context
//! variables, anonymous routes, scopes, and the MODIFY_RESPONSE failure policy.

mod common;

use common::{TestGateway, Upstream, client};
use fngate_test_jwt::TestKey;
use serde_json::{Value, json};

fn key() -> &'static TestKey {
    &fngate_test_jwt::keys()[0]
}

fn token(key: &TestKey, claims: Value) -> String {
    fngate_test_jwt::rs256(key, &claims)
}

fn claims(scope: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"iss": "https://issuer.example.com/", "aud": "api://fngate-test", "sub": "user-1",
           "scp": scope, "iat": now, "exp": now + 600})
}

#[tokio::test]
async fn tokens_are_checked_and_claims_reach_the_backend() {
    let keys = key();
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    let auth = |failure: Value| {
        let mut policy = json!({
            "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
            "isAnonymousAccessAllowed": true,
            "validationPolicy": {"type": "STATIC_KEYS", "keys": [{"format": "PEM", "kid": keys.kid, "key": keys.public_pem}],
                "additionalValidationPolicy": {"issuers": ["https://issuer.example.com/"], "audiences": ["api://fngate-test"]}}});
        if !failure.is_null() {
            policy["validationFailurePolicy"] = failure;
        }
        policy
    };
    let routes = json!([
        {"path": "/me", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/who", upstream.addr)},
         "requestPolicies": {"headerTransformations": {"setHeaders": {"items": [
            {"name": "X-User", "values": ["${request.auth[sub]}"]}]}}}},
        {"path": "/open", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "open"},
         "requestPolicies": {"authorization": {"type": "ANONYMOUS"}}},
        {"path": "/admin", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "admin"},
         "requestPolicies": {"authorization": {"type": "ANY_OF", "allowedScope": ["Admin.All"]}}}
    ]);
    gw.deploy(
        "jwt",
        "/v1",
        json!({"requestPolicies": {"authentication": auth(Value::Null)}, "routes": routes}),
    )
    .await;
    let c = client();

    let r = c.get(gw.url("/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 401);

    let good = token(keys, claims("Functions.Invoke"));
    let r = c.get(gw.url("/v1/me")).bearer_auth(&good).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["headers"]["x-user"], "user-1");

    let other_key = keys_token_with_wrong_key(&claims("Functions.Invoke"));
    let r = c.get(gw.url("/v1/me")).bearer_auth(other_key).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    assert_eq!(c.get(gw.url("/v1/open")).send().await.unwrap().status(), 200);
    let r = c.get(gw.url("/v1/admin")).bearer_auth(&good).send().await.unwrap();
    assert_eq!(r.status(), 403, "scope missing");
    let admin = token(keys, claims("Functions.Invoke Admin.All"));
    assert_eq!(
        c.get(gw.url("/v1/admin"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // MODIFY_RESPONSE: status, message (with context variables) and headers of the refusal.
    let failure = json!({"type": "MODIFY_RESPONSE", "responseCode": "403",
        "responseMessage": "no entry for ${request.headers[X-Who]}",
        "responseHeaderTransformations": {"setHeaders": {"items": [{"name": "X-Why", "values": ["auth", "see-docs"]}]}}});
    gw.deploy(
        "jwt",
        "/v1",
        json!({"requestPolicies": {"authentication": auth(failure)}, "routes": routes}),
    )
    .await;
    let r = c.get(gw.url("/v1/me")).header("X-Who", "bob").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let why: Vec<_> = r.headers().get_all("x-why").iter().collect();
    assert_eq!(why, ["auth", "see-docs"], "each value its own header instance");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 403, "message": "no entry for bob"})
    );
    gw.stop().await;
}

/// The route's `kid`, signed by another key.
fn keys_token_with_wrong_key(claims: &Value) -> String {
    let attacker = &fngate_test_jwt::keys()[2];
    fngate_test_jwt::sign(
        attacker,
        jsonwebtoken::Algorithm::RS256,
        claims,
        json!({"kid": key().kid}),
    )
}

#[tokio::test]
async fn anonymous_routes_need_anonymous_access_allowed() {
    let gw = TestGateway::start().await;
    let spec = json!({"requestPolicies": {"authentication": {
            "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
            "validationPolicy": {"type": "REMOTE_JWKS", "uri": "http://127.0.0.1:9/keys"}}},
        "routes": [{"path": "/open", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200},
                    "requestPolicies": {"authorization": {"type": "ANONYMOUS"}}}]});
    let err = gw
        .gateway
        .deploy("anon", "/a", fngate_spec::SpecFormat::Json, &spec.to_string())
        .await
        .unwrap_err();
    let fngate_gateway::DeployError::Invalid { errors, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        errors
            .iter()
            .any(|e| e.path.starts_with("routes[0].requestPolicies.authorization")),
        "{errors:?}"
    );
    gw.stop().await;
}
