//! Key rotation and persistence across restarts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

async fn token(idp: &Running, client_id: &str, secret: &str) -> String {
    let body: Value = http_client()
        .post(format!("{}/{}/oauth2/v2.0/token", idp.http, idp.tid()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "api://orders/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn tokens_before_and_after_rotation_both_validate_during_overlap_then_old_key_goes() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 2).await;
    let (id, secret) = (client.client.client_id.as_str(), client.secret.value.as_str());
    let keys_url = format!("{}/{}/discovery/v2.0/keys", idp.http, idp.tid());
    let issuer = format!("https://login.microsoftonline.com/{}/v2.0", idp.tid());

    let before = token(&idp, id, secret).await;
    let keys = idp.idp.rotate_keys(Some(Duration::from_secs(3600))).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].signing && !keys[1].signing && keys[1].remove_at.is_some());
    let after = token(&idp, id, secret).await;
    assert_ne!(kid(&before), kid(&after), "new tokens use the new key");
    assert_eq!(kid(&after), keys[0].kid);

    let jwks_now = jwks(&http_client(), &keys_url).await;
    assert_eq!(jwks_now.keys.len(), 2);
    verify(&before, &jwks_now, &issuer, &api.client_id).expect("old token still validates during the overlap");
    verify(&after, &jwks_now, &issuer, &api.client_id).expect("new token validates");

    // A rotation with no overlap (an emergency roll) unpublishes the key it replaces at once;
    // the first key keeps the rest of its own overlap.
    idp.idp.rotate_keys(Some(Duration::ZERO)).await.unwrap();
    let jwks_later = jwks(&http_client(), &keys_url).await;
    assert_eq!(jwks_later.keys.len(), 2);
    assert!(jwks_later.find(&kid(&after)).is_none());
    assert!(verify(&after, &jwks_later, &issuer, &api.client_id).is_err());
    verify(&before, &jwks_later, &issuer, &api.client_id).expect("first key is still in its overlap");
    let newest = token(&idp, id, secret).await;
    verify(&newest, &jwks_later, &issuer, &api.client_id).unwrap();
    idp.stop().await;
}

#[tokio::test]
async fn tenant_keys_ca_and_registrations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;
    let (api, client) = register(&first.idp, 2).await;
    let tid = first.tid();
    let kid_before = first.idp.list_keys()[0].kid.clone();
    let ca_before = first.idp.ca_info().pem;
    let old_token = token(&first, &client.client.client_id, &client.secret.value).await;
    first.stop().await;

    let second = start(dir.path()).await;
    assert_eq!(second.tid(), tid);
    assert_eq!(second.idp.list_keys()[0].kid, kid_before);
    assert_eq!(second.idp.ca_info().pem, ca_before, "clients keep trusting the same CA");
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", second.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    verify(&old_token, &keys, &issuer, &api.client_id).unwrap();
    let new_token = token(&second, &client.client.client_id, &client.secret.value).await;
    verify(&new_token, &keys, &issuer, &api.client_id).unwrap();
    second.stop().await;
}

#[tokio::test]
async fn ensure_is_idempotent_and_only_a_new_client_gets_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let new_api = fngate_idp::api::NewApiApp {
        name: "demo-api".into(),
        identifier_uri: Some("api://fngate-demo".into()),
        app_roles: vec!["Demo.Read".into()],
        ..Default::default()
    };
    let a = idp.idp.ensure_api_app(new_api.clone()).await.unwrap();
    let b = idp.idp.ensure_api_app(new_api).await.unwrap();
    assert_eq!(a.client_id, b.client_id);
    assert_eq!(a.token_version, 1, "v1 tokens by default, as Entra");
    let new_client = fngate_idp::api::NewClientApp {
        name: "demo-client".into(),
        grants: vec!["api://fngate-demo/Demo.Read".into()],
        ..Default::default()
    };
    let (c1, s1) = idp.idp.ensure_client_app(new_client.clone()).await.unwrap();
    let (c2, s2) = idp.idp.ensure_client_app(new_client).await.unwrap();
    assert!(s1.is_some() && s2.is_none());
    assert_eq!(c1.client_id, c2.client_id);
    assert_eq!(c2.grants.len(), 1);
    assert_eq!(c2.secrets.len(), 1);

    // Registration errors say which field was wrong.
    let err = idp
        .idp
        .grant_roles("demo-client", &["demo-api/Nope".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("grants[0]") && err.contains("Nope") && err.contains("Demo.Read"),
        "{err}"
    );
    let err = idp
        .idp
        .create_api_app(fngate_idp::api::NewApiApp {
            name: "x".into(),
            token_version: Some(3),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("token_version: 3"), "{err}");
    idp.stop().await;
}

#[tokio::test]
async fn keys_past_their_overlap_are_deleted_from_the_store_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;
    first.idp.rotate_keys(Some(Duration::ZERO)).await.unwrap();
    assert_eq!(first.idp.list_keys().len(), 1, "a zero overlap unpublishes at once");
    first.stop().await;

    let second = start(dir.path()).await;
    let store = fngate_store::Store::open(dir.path()).await.unwrap();
    let stored = fngate_store::idp::list_signing_keys(&store).await.unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the retired key is gone from the store, not just hidden"
    );
    assert_eq!(stored[0].kid, second.idp.list_keys()[0].kid);
    second.stop().await;
}
