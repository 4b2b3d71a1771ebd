//! A gateway route to a function follows the function's lifecycle, against the real `fngate up`
//! and a real Python fdk function: deleted → 502 with a body that says so; deployed again (a new
//! function id) → served at once; redeployed with new code → the new version answers. No
//! redeploy of the gateway deployment and no restart in between.

mod support;

use serde_json::{Value, json};
use support::*;

fn handler(version: &str) -> String {
    format!(
        r#"import io

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    return response.Response(ctx, response_data="{version}", headers={{"Content-Type": "text/plain"}})
"#
    )
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn function_routes_follow_delete_recreate_and_redeploy() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "lc", false);
    std::fs::write(dir.join("func.py"), handler("v1")).unwrap();
    server.cli_ok(&dir, &["deploy", "--app", "lcapp", "--create-app"], None);
    let first_id = server.fn_id("lcapp", "lc").await;

    // One route names the function by id (as OCI specs do), one by app/name.
    let spec = json!({"routes": [
        {"path": "/by-id", "methods": ["GET"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": first_id}},
        {"path": "/by-name", "methods": ["GET"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "lcapp/lc"}},
    ]});
    let response = server
        .http()
        .put(server.admin("/fngate/gateway/deployments/lc"))
        .json(&json!({"pathPrefix": "/v1", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let routes = ["/v1/by-id", "/v1/by-name"];
    for route in routes {
        assert_eq!(get(&server.gateway(route)).await, (200, "v1".to_string()), "{route}");
    }

    // Deleted: a 502 whose body says the function is missing.
    server.cli_ok(&dir, &["delete", "fn", "lcapp", "lc"], None);
    for route in routes {
        let (status, body) = get(&server.gateway(route)).await;
        assert_eq!(status, 502, "{route}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            json!({"code": 502, "message": "The function behind this route does not exist"}),
            "{route}"
        );
    }

    // Created again under a new id: served by the very next request.
    server.cli_ok(&dir, &["deploy", "--app", "lcapp"], None);
    let second_id = server.fn_id("lcapp", "lc").await;
    assert_ne!(first_id, second_id, "a recreated function gets a new id");
    for route in routes {
        assert_eq!(get(&server.gateway(route)).await, (200, "v1".to_string()), "{route}");
    }

    // New code, same function: the new version answers at once.
    std::fs::write(dir.join("func.py"), handler("v2")).unwrap();
    server.cli_ok(&dir, &["deploy", "--app", "lcapp"], None);
    assert_eq!(server.fn_id("lcapp", "lc").await, second_id);
    for route in routes {
        assert_eq!(get(&server.gateway(route)).await, (200, "v2".to_string()), "{route}");
    }
}
