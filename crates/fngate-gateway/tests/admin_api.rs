//! The admin API over a real socket: create / update / conflict / invalid / show / list / delete.

mod common;

use common::{TestGateway, client};
use serde_json::{Value, json};

#[tokio::test]
async fn admin_api_manages_deployments() {
    let gw = TestGateway::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = format!("http://{}", listener.local_addr().unwrap());
    let router = gw.gateway.admin_router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let c = client();
    let spec_yaml = "routes:\n  - path: /hi\n    backend: {type: STOCK_RESPONSE_BACKEND, status: 200, body: hi}\n";

    let r = c
        .put(format!("{admin}/fngate/gateway/deployments/one"))
        .json(&json!({"pathPrefix": "/one", "format": "yaml", "specification": spec_yaml}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["routes"][0]["backend"], "STOCK_RESPONSE_BACKEND");
    assert_eq!(
        c.get(gw.url("/one/hi")).send().await.unwrap().text().await.unwrap(),
        "hi"
    );

    // Update with a JSON object instead of text.
    let r = c
        .put(format!("{admin}/fngate/gateway/deployments/one"))
        .json(&json!({"pathPrefix": "/one", "specification": {"routes": [
            {"path": "/hi", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "hi again"}}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(gw.url("/one/hi")).send().await.unwrap().text().await.unwrap(),
        "hi again"
    );

    // Another deployment on the same prefix: 409, nothing changes.
    let r = c
        .put(format!("{admin}/fngate/gateway/deployments/two"))
        .json(&json!({"pathPrefix": "/one", "format": "yaml", "specification": spec_yaml}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // OCI forbids a trailing `/` on a path prefix (other than `/` itself): 400 naming pathPrefix.
    let r = c
        .put(format!("{admin}/fngate/gateway/deployments/two"))
        .json(&json!({"pathPrefix": "/one/", "format": "yaml", "specification": spec_yaml}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["path"], "pathPrefix", "{body}");
    assert!(
        error["message"].as_str().unwrap().contains("must not end with `/`"),
        "{body}"
    );

    // Invalid: 400 with every error and the warnings, each with its JSON path.
    let r = c
        .put(format!("{admin}/fngate/gateway/deployments/one"))
        .json(&json!({"pathPrefix": "/one", "specification": {"routes": [
            {"path": "/a", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}, "extra": 1},
            {"path": "/b/{x}.html", "backend": {"type": "HTTP_BACKEND", "url": "http://h/?q=${request.path[x]}"}}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().any(|p| p.starts_with("routes[1].path")), "{body}");
    assert!(paths.iter().any(|p| p.starts_with("routes[1].backend.url")), "{body}");
    assert!(
        body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["path"].as_str().unwrap().contains("routes[0]")),
        "{body}"
    );
    assert_eq!(
        c.get(gw.url("/one/hi")).send().await.unwrap().text().await.unwrap(),
        "hi again"
    );

    let r = c
        .post(format!("{admin}/fngate/gateway/validate"))
        .json(&json!({"specification": "{not json"}))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["valid"], false);
    assert!(
        report["errors"][0]["path"].as_str().unwrap().starts_with("line 1"),
        "{report}"
    );

    let shown: Value = c
        .get(format!("{admin}/fngate/gateway/deployments/one"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["serving"], true);
    assert!(shown["specification"].as_str().unwrap().contains("hi again"));
    let listed: Value = c
        .get(format!("{admin}/fngate/gateway/deployments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        c.delete(format!("{admin}/fngate/gateway/deployments/one"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.delete(format!("{admin}/fngate/gateway/deployments/one"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(format!("{admin}/fngate/gateway/deployments/one"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(c.get(gw.url("/one/hi")).send().await.unwrap().status(), 404);
    server.abort();
    gw.stop().await;
}
