//! The deployment specification examples, placeholders filled, converted and enforced end to end.

mod support;

use std::time::Duration;

use fngate_auth::{
    AuthConfig, Authorization, KeySource, StaticKey, TokenLocation, authorization_from_spec, check_route_authorization,
    config_from_spec,
};
use fngate_spec::{AuthenticationPolicy, SpecFormat};
use serde_json::json;
use support::*;

fn example(name: &str, server: &JwksServer) -> fngate_spec::ApiSpecification {
    let path = format!("{}/../fngate-spec/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text
        .replace(
            "https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys",
            &server.jwks_uri(),
        )
        .replace("<tenant-id>", TENANT)
        .replace("<oci-app-client-id>", "fn-gateway")
        .replace("<function-id>", "ocid1.fnfunc.oc1..example");
    fngate_spec::parse(&text, SpecFormat::Json).unwrap().spec
}

fn policy(spec: &fngate_spec::ApiSpecification) -> &AuthenticationPolicy {
    spec.request_policies.as_ref().unwrap().authentication.as_ref().unwrap()
}

#[tokio::test]
async fn seed_examples_token_and_legacy_jwt_give_the_same_enforced_policy() {
    let [k1, _, _, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let token_spec = example("seed-deployment.token-auth.json", &server);
    let legacy_spec = example("seed-deployment.jwt-auth.json", &server);
    let token = config_from_spec(policy(&token_spec)).unwrap();
    let legacy = config_from_spec(policy(&legacy_spec)).unwrap();
    assert_eq!(token, legacy, "legacy JWT_AUTHENTICATION normalises to the same config");
    let AuthConfig::Jwt(jwt) = &token else {
        panic!("expected a JWT policy")
    };
    assert_eq!(jwt.location, bearer_location());
    assert_eq!(jwt.issuers, vec![v1_issuer()]);
    assert_eq!(jwt.audiences, vec![AUDIENCE.to_string()]);
    assert_eq!(
        jwt.keys,
        KeySource::RemoteJwks {
            uri: server.jwks_uri(),
            ssl_verify_disabled: false,
            max_cache_duration: Duration::from_secs(3600)
        }
    );

    let service = fngate_auth::AuthService::new(None);
    let auth = service.build(token).await.unwrap();
    let route = &token_spec.routes[0];
    let authorization = authorization_from_spec(&route.authorization());
    assert_eq!(authorization, Authorization::AuthenticationOnly);
    check_route_authorization(auth.is_anonymous_access_allowed(), &authorization).unwrap();
    // The walkthrough's v1 token (iss sts.windows.net) passes; a v2 token is not from a listed issuer.
    let ok = with_bearer(&auth, &rs256(k1, &entra_v1_claims())).await;
    assert!(fngate_auth::authorize_in_realm(&ok, &authorization, REALM).is_ok());
    let v2 = with_bearer(&auth, &rs256(k1, &entra_v2_claims())).await;
    assert_eq!(
        rejected(&v2).log_message,
        "JWT token not issued by the configured issuers."
    );
}

#[tokio::test]
async fn full_featured_example_converts() {
    let server = JwksServer::start(&[]).await;
    let spec = example("full-featured.token-auth.json", &server);
    let AuthConfig::Jwt(jwt) = config_from_spec(policy(&spec)).unwrap() else {
        panic!("expected a JWT policy")
    };
    assert!(jwt.is_anonymous_access_allowed);
    assert_eq!(jwt.max_clock_skew, Duration::from_secs(60));
    for route in &spec.routes {
        check_route_authorization(true, &authorization_from_spec(&route.authorization())).unwrap();
    }
}

fn parse_policy(v: serde_json::Value) -> AuthenticationPolicy {
    serde_json::from_value(v).unwrap()
}

#[test]
fn static_keys_query_location_and_claims_convert() {
    let [k1, _, _, _] = keys();
    let mut jwk = k1.jwk.clone();
    jwk.as_object_mut()
        .unwrap()
        .retain(|k, _| ["kid", "kty", "use", "n", "e"].contains(&k.as_str()));
    jwk["format"] = json!("JSON_WEB_KEY");
    let p = parse_policy(json!({
        "type": "TOKEN_AUTHENTICATION", "tokenQueryParam": "access_token", "maxClockSkewInSeconds": 2.5,
        "validationPolicy": {"type": "STATIC_KEYS", "keys": [jwk, {"format": "PEM", "kid": "pem-1", "key": k1.public_pem}],
            "additionalValidationPolicy": {"issuers": [v2_issuer()],
                "verifyClaims": [{"key": "azp", "values": [CLIENT_ID], "isRequired": true}, {"key": "ver"}]}}
    }));
    let AuthConfig::Jwt(jwt) = config_from_spec(&p).unwrap() else {
        panic!()
    };
    assert_eq!(
        jwt.location,
        TokenLocation::Query {
            name: "access_token".into()
        }
    );
    assert_eq!(jwt.max_clock_skew, Duration::from_millis(2500));
    assert!(jwt.verify_claims[0].is_required && !jwt.verify_claims[1].is_required);
    let KeySource::StaticKeys(keys) = &jwt.keys else {
        panic!()
    };
    assert!(matches!(&keys[0], StaticKey::Jwk(v) if v["kid"] == "key-1" && v["n"] == k1.jwk["n"]));
    assert!(matches!(&keys[1], StaticKey::Pem { kid, .. } if kid == "pem-1"));
}

#[test]
fn unenforceable_policies_are_errors_with_paths() {
    let remote = json!({"type": "REMOTE_JWKS", "uri": "https://idp.example.com/keys"});
    let cases = [
        (
            json!({"type": "TOKEN_AUTHENTICATION", "validationPolicy": remote}),
            "requestPolicies.authentication.tokenHeader: one of tokenHeader or tokenQueryParam is required",
        ),
        (
            json!({"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenQueryParam": "t", "validationPolicy": remote}),
            "requestPolicies.authentication.tokenHeader: tokenHeader and tokenQueryParam are exclusive; give one",
        ),
        (
            json!({"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "maxClockSkewInSeconds": 300, "validationPolicy": remote}),
            "requestPolicies.authentication.maxClockSkewInSeconds: must be between 0 and 120, got 300",
        ),
        (
            json!({"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "validationPolicy": {"type": "REMOTE_JWKS", "uri": "https://x/k", "maxCacheDurationInHours": 48}}),
            "requestPolicies.authentication.validationPolicy.maxCacheDurationInHours: must be between 1 and 24 hours, got 48",
        ),
        (
            json!({"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "validationPolicy": {"type": "STATIC_KEYS", "keys": []}}),
            "requestPolicies.authentication.validationPolicy.keys: at least one key is required",
        ),
        (
            json!({"type": "CUSTOM_AUTHENTICATION", "functionId": "f"}),
            "requestPolicies.authentication.parameters: give 'parameters' (or the legacy tokenHeader / tokenQueryParam)",
        ),
    ];
    for (policy, message) in cases {
        let e = config_from_spec(&parse_policy(policy.clone()))
            .err()
            .unwrap_or_else(|| panic!("{policy}"));
        assert_eq!(e.0, message);
    }
}

#[test]
fn custom_and_route_authorization_convert() {
    let p = parse_policy(json!({
        "type": "CUSTOM_AUTHENTICATION", "functionId": "app/authorizer", "isAnonymousAccessAllowed": true,
        "parameters": {"apiKey": "request.headers[X-Api-Key]", "body": "request.body"}, "cacheKey": ["apiKey"]
    }));
    let AuthConfig::Custom(c) = config_from_spec(&p).unwrap() else {
        panic!()
    };
    assert_eq!(c.function_id, "app/authorizer");
    assert_eq!(c.parameters.len(), 2);
    assert_eq!(c.cache_key, vec!["apiKey"]);
    assert!(c.is_anonymous_access_allowed);

    let any: fngate_spec::RouteAuthorizationPolicy =
        serde_json::from_value(json!({"type": "ANY_OF", "allowedScope": ["a", "b"]})).unwrap();
    assert_eq!(
        authorization_from_spec(&any),
        Authorization::AnyOf(vec!["a".into(), "b".into()])
    );
    let anon: fngate_spec::RouteAuthorizationPolicy = serde_json::from_value(json!({"type": "ANONYMOUS"})).unwrap();
    assert!(check_route_authorization(false, &authorization_from_spec(&anon)).is_err());
}
