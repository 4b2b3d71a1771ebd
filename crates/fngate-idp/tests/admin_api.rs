//! The admin API over a real socket: status codes and messages a CLI user sees.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn admin_api_creates_lists_and_explains_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = format!("http://{}", listener.local_addr().unwrap());
    let router = idp.idp.admin_router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = http_client();

    let created = http
        .post(format!("{admin}/idp/apps"))
        .json(&json!({"name": "orders", "app_roles": ["Orders.Read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let app: Value = created.json().await.unwrap();
    assert_eq!(
        app["identifier_uri"],
        format!("api://{}", app["client_id"].as_str().unwrap()),
        "Entra's default URI"
    );

    let duplicate = http
        .post(format!("{admin}/idp/apps"))
        .json(&json!({"name": "orders"}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);

    let wrong_type = http
        .post(format!("{admin}/idp/apps"))
        .json(&json!({"name": "x", "app_roles": "Orders.Read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let message: Value = wrong_type.json().await.unwrap();
    assert!(message["message"].as_str().unwrap().contains("app_roles"), "{message}");

    let bad_uri = http
        .post(format!("{admin}/idp/apps"))
        .json(&json!({"name": "y", "identifier_uri": "orders"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_uri.status(), 400);
    let message: Value = bad_uri.json().await.unwrap();
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .starts_with("identifier_uri: \"orders\""),
        "{message}"
    );

    let unknown = http.get(format!("{admin}/idp/clients/nobody")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    let client: Value = http
        .post(format!("{admin}/idp/clients"))
        .json(&json!({"name": "daemon", "grants": ["orders/Orders.Read"], "secret": {"expires_in_days": 1}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(client["secret"]["value"].as_str().unwrap().len(), 40);
    let overview: Value = http
        .get(format!("{admin}/idp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["default_tenant_id"], idp.tid());
    assert_eq!(overview["clients"][0]["grants"][0]["role"], "Orders.Read");
    assert!(
        !overview
            .to_string()
            .contains(client["secret"]["value"].as_str().unwrap())
    );

    let too_long = http
        .post(format!("{admin}/idp/clients/daemon/secrets"))
        .json(&json!({"expires_in_days": 9999}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);

    server.abort();
    idp.stop().await;
}
