//! The remote key cache: rotation, outages, unknown-kid floods, discovery, sharing between deployments.

mod support;

use std::sync::Arc;
use std::time::Duration;

use fngate_auth::{AuthOptions, AuthOutcome, AuthService, Authenticator, KeySource};
use http::StatusCode;
use serde_json::json;
use support::*;

fn fast_service(min_refetch_interval: Duration) -> Arc<AuthService> {
    AuthService::with_options(
        None,
        AuthOptions {
            min_refetch_interval,
            fetch_timeout: Duration::from_secs(2),
            ..AuthOptions::default()
        },
    )
}

fn remote_with_cache(uri: String, max_cache: Duration) -> KeySource {
    KeySource::RemoteJwks {
        uri,
        ssl_verify_disabled: false,
        max_cache_duration: max_cache,
    }
}

/// A distinct token per call (so the verified-token cache does not hide key lookups).
fn token_for(key: &TestKey, n: usize) -> String {
    let mut claims = entra_v2_claims();
    claims["uti"] = json!(format!("req-{n}"));
    rs256(key, &claims)
}

async fn burst(auth: &Arc<Authenticator>, tokens: Vec<String>) -> Vec<AuthOutcome> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let auth = auth.clone();
            tokio::spawn(async move { with_bearer(&auth, &t).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn failures(outcomes: &[AuthOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            AuthOutcome::Authenticated(_) => None,
            other => Some(format!("{other:?}")),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_has_zero_failed_requests() {
    let [k1, k2, _, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let service = fast_service(Duration::from_millis(200));
    let config = jwt_config(remote_with_cache(server.jwks_uri(), Duration::from_secs(2)));
    let auth = service.build(wrap(config)).await.unwrap();

    let before: Vec<String> = (0..20).map(|n| token_for(k1, n)).collect();
    assert!(failures(&burst(&auth, before).await).is_empty());
    assert_eq!(server.jwks_hits(), 1);

    // The IdP publishes the new key next to the old one and starts signing with it.
    let mixed: Vec<String> = (0..40)
        .map(|n| if n % 2 == 0 { token_for(k2, n) } else { token_for(k1, n) })
        .collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    server.publish(&[k1, k2]);
    let outcomes = burst(&auth, mixed).await;
    assert!(failures(&outcomes).is_empty(), "{:?}", failures(&outcomes));
    assert_eq!(server.jwks_hits(), 2, "one single-flight refetch for the new kid");

    // The old key is withdrawn; clients use the new one throughout, until the background refresh
    // (at 3/4 of the 2 s cache duration) has picked up the change.
    server.publish(&[k2]);
    let mut n = 1000;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.jwks_hits() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no background refresh within 10 s"
        );
        let tokens: Vec<String> = (n..n + 10).map(|i| token_for(k2, i)).collect();
        n += 10;
        assert!(failures(&burst(&auth, tokens).await).is_empty());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old key is no longer trusted: even a token verified earlier (and cached) is refused now.
    let outcome = with_bearer(&auth, &token_for(k1, 1)).await;
    assert_eq!(rejected(&outcome).status, StatusCode::UNAUTHORIZED);
    principal(&with_bearer(&auth, &token_for(k2, 0)).await);
}

#[tokio::test]
async fn outage_keeps_the_last_good_keys() {
    let [k1, _, attacker, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let service = fast_service(Duration::from_millis(100));
    let config = jwt_config(remote_with_cache(server.jwks_uri(), Duration::from_millis(400)));
    let auth = service.build(wrap(config)).await.unwrap();
    principal(&with_bearer(&auth, &token_for(k1, 0)).await);

    server.set_up(false);
    // Background refreshes fail, an unknown kid forces a failing refetch: the keys stay.
    tokio::time::sleep(Duration::from_millis(700)).await;
    rejected(&with_bearer(&auth, &token_for(attacker, 1)).await);
    for n in 2..10 {
        principal(&with_bearer(&auth, &token_for(k1, n)).await);
    }
    assert!(server.jwks_hits() >= 3, "refreshes were attempted during the outage");
    server.set_up(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_refetches_at_most_once_per_interval() {
    let [k1, _, attacker, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let flood = |from: usize| -> Vec<String> {
        (from..from + 150)
            .map(|n| {
                sign(
                    attacker,
                    jsonwebtoken::Algorithm::RS256,
                    &entra_v2_claims(),
                    json!({"kid": format!("random-{n}")}),
                )
            })
            .collect()
    };
    let (first, second, third) = (flood(0), flood(1000), flood(2000));
    let service = fast_service(Duration::from_secs(2));
    let auth = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    assert_eq!(server.jwks_hits(), 1);

    // Within the interval of the build-time fetch: no refetch at all.
    let outcomes = burst(&auth, first).await;
    assert_eq!(failures(&outcomes).len(), 150);
    assert_eq!(server.jwks_hits(), 1);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    burst(&auth, second).await;
    burst(&auth, third).await;
    assert_eq!(server.jwks_hits(), 2, "one refetch for the whole flood");
    assert_eq!(service.jwks_fetch_count(&server.jwks_uri()), 2);
    // Legitimate traffic is unaffected.
    principal(&with_bearer(&auth, &token_for(k1, 7)).await);
}

#[tokio::test]
async fn no_keys_ever_means_500_with_the_reason_logged_then_recovery() {
    let [k1, _, _, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    server.set_up(false);
    let service = fast_service(Duration::from_millis(100));
    let auth = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    let outcome = with_bearer(&auth, &token_for(k1, 0)).await;
    let r = rejected(&outcome);
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.www_authenticate.is_none());
    assert!(
        r.log_message.contains(&server.jwks_uri()) && r.log_message.contains("503"),
        "{}",
        r.log_message
    );

    server.set_up(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    principal(&with_bearer(&auth, &token_for(k1, 1)).await);
}

#[tokio::test]
async fn unreachable_jwks_is_500_not_a_build_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("http://127.0.0.1:{port}/keys");
    let auth = fast_service(Duration::from_secs(60))
        .build(wrap(jwt_config(remote(uri.clone()))))
        .await
        .unwrap();
    let outcome = with_bearer(&auth, &token_for(&keys()[0], 0)).await;
    let r = rejected(&outcome);
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.log_message.contains(&uri), "{}", r.log_message);
}

#[tokio::test]
async fn discovery_document_leads_to_the_jwks() {
    let [k1, _, _, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let source = KeySource::RemoteDiscovery {
        uri: server.discovery_uri(),
        ssl_verify_disabled: false,
        max_cache_duration: Duration::from_secs(3600),
    };
    let auth = AuthService::new(None).build(wrap(jwt_config(source))).await.unwrap();
    principal(&with_bearer(&auth, &token_for(k1, 0)).await);
    assert_eq!((server.discovery_hits(), server.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn deployments_share_one_cache_per_uri() {
    let [k1, _, _, _] = keys();
    let server = JwksServer::start(&[k1]).await;
    let service = AuthService::new(None);
    let a = service
        .build(wrap(jwt_config(remote(server.jwks_uri()))))
        .await
        .unwrap();
    let mut other = jwt_config(remote(server.jwks_uri()));
    other.audiences = vec!["api://other".into()];
    let b = service.build(wrap(other)).await.unwrap();
    principal(&with_bearer(&a, &token_for(k1, 0)).await);
    // Same token, other policy: the verified-token cache is per policy.
    rejected(&with_bearer(&b, &token_for(k1, 0)).await);
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn plain_http_is_only_for_loopback() {
    let err = AuthService::new(None)
        .build(wrap(jwt_config(remote("http://idp.example.com/keys".into()))))
        .await
        .err()
        .unwrap();
    assert!(err.0.contains("must use https"), "{err}");
    let err = AuthService::new(None)
        .build(wrap(jwt_config(remote("not a url".into()))))
        .await
        .err()
        .unwrap();
    assert!(err.0.starts_with("uri: 'not a url' is not a URL"), "{err}");
}
