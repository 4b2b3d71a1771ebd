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

/// A function deleted, then the server restarted: the stored deployment still loads. Its route to
/// the deleted function answers the same 502 as before the restart and the other routes serve;
/// a route naming `app/function` follows the function when it is created again, a route naming
/// the old id cannot (nothing in the store remembers which function that id was).
#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_naming_a_deleted_function_still_loads_after_a_restart() {
    let mut server = Server::start_with(ServerOptions {
        ports: Some(Ports::free()),
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "gone", false);
    std::fs::write(dir.join("func.py"), handler("v1")).unwrap();
    server.cli_ok(&dir, &["deploy", "--app", "goneapp", "--create-app"], None);
    let first_id = server.fn_id("goneapp", "gone").await;
    let spec = json!({"routes": [
        {"path": "/by-id", "methods": ["GET"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": first_id}},
        {"path": "/by-name", "methods": ["GET"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "goneapp/gone"}},
        {"path": "/ping", "methods": ["GET"],
         "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "pong"}},
    ]});
    let response = server
        .http()
        .put(server.admin("/fngate/gateway/deployments/gone"))
        .json(&json!({"pathPrefix": "/v1", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    server.cli_ok(&dir, &["delete", "fn", "goneapp", "gone"], None);

    let ports = server.ports();
    let data = server.data.clone();
    server.terminate();
    let server = Server::start_with(ServerOptions {
        ports: Some(ports),
        data: Some(data),
        ..ServerOptions::default()
    });
    assert_eq!(get(&server.gateway("/v1/ping")).await, (200, "pong".to_string()));
    for route in ["/v1/by-id", "/v1/by-name"] {
        let (status, body) = get(&server.gateway(route)).await;
        assert_eq!(status, 502, "{route}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"code": 502, "message": "The function behind this route does not exist"}),
            "{route}"
        );
    }

    server.cli_ok(&dir, &["deploy", "--app", "goneapp"], None);
    assert_eq!(get(&server.gateway("/v1/by-name")).await, (200, "v1".to_string()));
    assert_eq!(get(&server.gateway("/v1/by-id")).await.0, 502);
}
