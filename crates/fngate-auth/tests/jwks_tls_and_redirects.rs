//! Where key fetches may go, over real sockets: an `https` JWKS needs a trusted CA (the system
//! store, or `TrustedRoots` such as fngate's own IdP CA); every redirect hop obeys the rules of a
//! configured URI (issue #12: an https JWKS redirecting to plain-http loopback is refused); and the
//! one-off probe behind `validate --server-check` names the failing URI's JSON path.

mod support;

use std::sync::Arc;
use std::time::Duration;

use fngate_auth::{AuthOptions, AuthService, TrustedRoots};
use fngate_spec::{AuthenticationPolicy, SpecFormat};
use http::StatusCode;
use serde_json::json;
use support::*;

fn service(roots: TrustedRoots) -> Arc<AuthService> {
    AuthService::with_options(
        None,
        AuthOptions {
            min_refetch_interval: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
            trusted_roots: roots,
            ..AuthOptions::default()
        },
    )
}

fn trusting(server: &TlsJwksServer) -> TrustedRoots {
    let mut roots = TrustedRoots::default();
    assert_eq!(roots.add_pem(server.ca_pem.as_bytes(), "test CA").unwrap(), 1);
    roots
}

#[tokio::test]
async fn an_https_jwks_is_fetched_once_its_ca_is_trusted() {
    let [k1, _, _, _] = keys();
    let tls = TlsJwksServer::start(&[k1]).await;
    let token = rs256(k1, &entra_v2_claims());

    let untrusted = service(TrustedRoots::default())
        .build(wrap(jwt_config(remote(tls.uri("/keys")))))
        .await
        .unwrap();
    let outcome = with_bearer(&untrusted, &token).await;
    let r = rejected(&outcome);
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.log_message.contains("UnknownIssuer") || r.log_message.contains("certificate"),
        "{}",
        r.log_message
    );
    assert_eq!(tls.hits(), 0);

    let trusted = service(trusting(&tls))
        .build(wrap(jwt_config(remote(tls.uri("/keys")))))
        .await
        .unwrap();
    principal(&with_bearer(&trusted, &token).await);
    assert_eq!(tls.hits(), 1);
}

#[tokio::test]
async fn a_redirect_hop_obeys_the_rules_of_a_configured_uri() {
    let [k1, _, _, _] = keys();
    let tls = TlsJwksServer::start(&[k1]).await;
    let plain = JwksServer::start(&[k1]).await;
    let token = rs256(k1, &entra_v2_claims());
    let auth_service = service(trusting(&tls));

    // https → http://127.0.0.1: refused before anything is sent to the plain server.
    let downgrade = tls.redirect_to(&plain.jwks_uri());
    let auth = auth_service.build(wrap(jwt_config(remote(downgrade)))).await.unwrap();
    let outcome = with_bearer(&auth, &token).await;
    let r = rejected(&outcome);
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.log_message.contains("refused redirect") && r.log_message.contains(&plain.jwks_uri()),
        "{}",
        r.log_message
    );
    assert_eq!(plain.jwks_hits(), 0, "the plain-http server was never asked");

    // https → https on the same trusted host: followed.
    let same = tls.redirect_to(&tls.uri("/keys"));
    let auth = auth_service.build(wrap(jwt_config(remote(same)))).await.unwrap();
    principal(&with_bearer(&auth, &token).await);
    assert_eq!(tls.hits(), 1);
}

fn policy(uri_field: serde_json::Value) -> AuthenticationPolicy {
    let spec = json!({
        "requestPolicies": {"authentication": uri_field},
        "routes": [{"path": "/x", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}}]
    });
    let parsed = fngate_spec::parse(&spec.to_string(), SpecFormat::Json).unwrap();
    parsed.spec.request_policies.unwrap().authentication.unwrap()
}

#[tokio::test]
async fn the_probe_names_the_json_path_of_each_failing_uri() {
    let [k1, _, _, _] = keys();
    let tls = TlsJwksServer::start(&[k1]).await;
    let plain = JwksServer::start(&[k1]).await;
    let token_auth = |validation: serde_json::Value| {
        json!({"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
               "validationPolicy": validation})
    };
    let jwks = |uri: String| {
        token_auth(json!({"type": "REMOTE_JWKS", "uri": uri,
            "additionalValidationPolicy": {"issuers": [v2_issuer()], "audiences": [AUDIENCE]}}))
    };
    let discovery = |uri: String| {
        token_auth(
            json!({"type": "REMOTE_DISCOVERY", "clientDetails": {"type": "CUSTOM", "clientId": "c1", "clientSecretId": "ocid1.vaultsecret.oc1..s", "clientSecretVersionNumber": 1},
            "sourceUriDetails": {"type": "DISCOVERY_URI", "uri": uri},
            "additionalValidationPolicy": {"issuers": [v2_issuer()], "audiences": [AUDIENCE]}}),
        )
    };
    let legacy = |uri: String| {
        json!({"type": "JWT_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
               "issuers": [v2_issuer()], "audiences": [AUDIENCE],
               "publicKeys": {"type": "REMOTE_JWKS", "uri": uri}})
    };
    let untrusted = service(TrustedRoots::default());
    let trusted = service(trusting(&tls));

    let problems = untrusted.probe_key_sources(&policy(jwks(tls.uri("/keys")))).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "requestPolicies.authentication.validationPolicy.uri");
    assert!(problems[0].1.contains(&tls.uri("/keys")), "{problems:?}");

    let problems = untrusted.probe_key_sources(&policy(legacy(tls.uri("/keys")))).await;
    assert_eq!(
        problems[0].0, "requestPolicies.authentication.publicKeys.uri",
        "{problems:?}"
    );

    let problems = trusted
        .probe_key_sources(&policy(discovery(tls.uri("/no-such-document"))))
        .await;
    assert_eq!(
        problems[0].0,
        "requestPolicies.authentication.validationPolicy.sourceUriDetails.uri"
    );
    assert!(problems[0].1.contains("404"), "{problems:?}");

    let problems = trusted
        .probe_key_sources(&policy(jwks(tls.redirect_to(&plain.jwks_uri()))))
        .await;
    assert!(problems[0].1.contains("refused redirect"), "{problems:?}");

    for good in [
        policy(jwks(tls.uri("/keys"))),
        policy(discovery(plain.discovery_uri())),
        policy(legacy(plain.jwks_uri())),
    ] {
        assert_eq!(trusted.probe_key_sources(&good).await, Vec::<(String, String)>::new());
    }
}
