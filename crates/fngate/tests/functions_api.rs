//! Fn API v2 conformance on the functions listener: shapes, status codes, error bodies,
//! merge updates, cascading deletes and pagination cursors.

mod support;

use serde_json::{Value, json};
use support::*;

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

fn message(text: &str) -> Value {
    json!({ "message": text })
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_fns_and_triggers_follow_fn_api_v2() {
    let server = Server::start();
    let api = Api {
        base: server.functions(""),
        http: server.http(),
    };

    // Apps: create (200, not 201), conflicts, validation, get, 404.
    let (status, app) = api.post("/v2/apps", json!({"name": "a1", "config": {"K": "V"}})).await;
    assert_eq!(status, 200);
    assert_eq!(app["id"].as_str().unwrap().len(), 26);
    assert_eq!(app["config"], json!({"K": "V"}));
    assert!(app["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(app.get("annotations").is_none(), "empty annotations are omitted");
    let app_id = app["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.post("/v2/apps", json!({"name": "a1"})).await,
        (409, message("App already exists"))
    );
    assert_eq!(
        api.post("/v2/apps", json!({"name": "bad name"})).await,
        (400, message("Invalid app name"))
    );
    assert_eq!(
        api.post("/v2/apps", json!({})).await,
        (400, message("Missing app name"))
    );
    assert_eq!(api.get("/v2/apps/nope").await, (404, message("App not found")));
    assert_eq!(api.get(&format!("/v2/apps/{app_id}")).await, (200, app.clone()));

    // Update merges config ("" deletes a key); the name is immutable.
    let (status, updated) = api
        .put(&format!("/v2/apps/{app_id}"), json!({"config": {"K": "", "N": "1"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["config"], json!({"N": "1"}));
    assert_eq!(
        api.put(&format!("/v2/apps/{app_id}"), json!({"name": "other"})).await,
        (409, message("Could not update - name is immutable"))
    );

    // Pagination: ordered by name, cursor only when the page is full.
    for name in ["a2", "a3", "a4"] {
        assert_eq!(api.post("/v2/apps", json!({ "name": name })).await.0, 200);
    }
    let (_, page1) = api.get("/v2/apps?per_page=3").await;
    let names: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a1", "a2", "a3"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = api.get(&format!("/v2/apps?per_page=3&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["name"], "a4");
    assert!(page2.get("next_cursor").is_none());
    let (_, by_name) = api.get("/v2/apps?name=a3").await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);

    // Fns: app_id required, defaults, limits, conflict, invoke endpoint annotation.
    assert_eq!(api.get("/v2/fns").await, (400, message("Missing AppID on Fn")));
    assert_eq!(
        api.post("/v2/fns", json!({"name": "f", "app_id": "nope"})).await,
        (404, message("App not found"))
    );
    let (status, f) = api
        .post(
            "/v2/fns",
            json!({"name": "f1", "app_id": app_id, "image": "reg/f1:0.0.1"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (f["memory"].clone(), f["timeout"].clone(), f["idle_timeout"].clone()),
        (json!(128), json!(30), json!(30))
    );
    assert_eq!(f["config"], json!({}), "fn config is always present");
    let fn_id = f["id"].as_str().unwrap().to_string();
    assert_eq!(
        f["annotations"]["fnproject.io/fn/invokeEndpoint"],
        server.functions(&format!("/invoke/{fn_id}"))
    );
    assert_eq!(
        api.post("/v2/fns", json!({"name": "f1", "app_id": app_id})).await,
        (409, message("Fn with specified name already exists"))
    );
    let (status, body) = api
        .post("/v2/fns", json!({"name": "f2", "app_id": app_id, "memory": 0}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, f) = api
        .put(
            &format!("/v2/fns/{fn_id}"),
            json!({"timeout": 10, "config": {"A": "b"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (f["timeout"].clone(), f["config"].clone()),
        (json!(10), json!({"A": "b"}))
    );
    assert_eq!(api.get("/v2/fns/nope").await, (404, message("Fn not found")));

    // Triggers: source rules, conflicts, endpoint annotation.
    let trigger = json!({"name": "t1", "app_id": app_id, "fn_id": fn_id, "type": "http", "source": "/t1"});
    let (status, t) = api.post("/v2/triggers", trigger.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        t["annotations"]["fnproject.io/trigger/httpEndpoint"],
        server.functions("/t/a1/t1")
    );
    let clash = json!({"name": "t2", "app_id": app_id, "fn_id": fn_id, "type": "http", "source": "/t1"});
    assert_eq!(
        api.post("/v2/triggers", clash).await,
        (409, message("Trigger with the same type and source exists on this app"))
    );
    let bad = json!({"name": "t3", "app_id": app_id, "fn_id": fn_id, "type": "http", "source": "t3"});
    assert_eq!(api.post("/v2/triggers", bad).await.0, 400);
    let (_, triggers) = api.get(&format!("/v2/triggers?app_id={app_id}&fn_id={fn_id}")).await;
    assert_eq!(triggers["items"].as_array().unwrap().len(), 1);

    // Invoking a fn that was created through the API but never deployed is a clear error.
    let response = server.invoker(&fn_id).post("", &[]).await;
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("fngate deploy"));
    assert_eq!(server.invoker("nope").post("", &[]).await.status(), 404);

    // Deleting the app cascades to its fns and triggers; 204 with an empty body.
    let t_id = t["id"].as_str().unwrap();
    assert_eq!(api.delete(&format!("/v2/apps/{app_id}")).await, (204, Value::Null));
    assert_eq!(api.get(&format!("/v2/fns/{fn_id}")).await.0, 404);
    assert_eq!(
        api.get(&format!("/v2/triggers/{t_id}")).await,
        (404, message("Trigger not found"))
    );
    assert_eq!(
        api.delete(&format!("/v2/apps/{app_id}")).await,
        (404, message("App not found"))
    );

    // Unknown paths and methods get Fn's JSON bodies.
    assert_eq!(api.get("/nope").await, (404, message("Path not found: GET /nope")));
    assert_eq!(
        api.get("/invoke/x").await,
        (405, message("Method not allowed: GET /invoke/x"))
    );

    // The same API is on the admin listener, which the CLI uses.
    let out = server.cli_ok(std::path::Path::new("."), &["list", "apps", "--output", "json"], None);
    let apps: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(apps.as_array().unwrap().len(), 3);
}
