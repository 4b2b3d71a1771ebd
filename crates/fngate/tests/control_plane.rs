//! Who may call the control plane, through the real binary on real sockets: every admin and Fn API
//! route refuses anonymous and wrong-token calls and changes nothing; the route list is checked
//! against the routers' source so a new route cannot be left out; a foreign `Host` and non-JSON
//! state changes are refused; and `fngate idp serve`'s admin API is guarded the same way.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Value, json};
use support::*;

/// Every control-plane route of the admin listener, as the routers declare it (method, path
/// template), with the concrete path the test calls (`<name>` is filled with a real id). The Fn
/// API v2 and `/invoke` routes are served on the functions listener too.
const CONTROL_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/v2/apps", "/v2/apps"),
    ("POST", "/v2/apps", "/v2/apps"),
    ("GET", "/v2/apps/{id}", "/v2/apps/<app_id>"),
    ("PUT", "/v2/apps/{id}", "/v2/apps/<app_id>"),
    ("DELETE", "/v2/apps/{id}", "/v2/apps/<app_id>"),
    ("GET", "/v2/fns", "/v2/fns?app_id=<app_id>"),
    ("POST", "/v2/fns", "/v2/fns"),
    ("GET", "/v2/fns/{id}", "/v2/fns/<fn_id>"),
    ("PUT", "/v2/fns/{id}", "/v2/fns/<fn_id>"),
    ("DELETE", "/v2/fns/{id}", "/v2/fns/<fn_id>"),
    ("GET", "/v2/triggers", "/v2/triggers?app_id=<app_id>"),
    ("POST", "/v2/triggers", "/v2/triggers"),
    ("GET", "/v2/triggers/{id}", "/v2/triggers/<trigger_id>"),
    ("PUT", "/v2/triggers/{id}", "/v2/triggers/<trigger_id>"),
    ("DELETE", "/v2/triggers/{id}", "/v2/triggers/<trigger_id>"),
    ("POST", "/invoke/{fn_id}", "/invoke/<fn_id>"),
    ("POST", "/fngate/functions/deploy", "/fngate/functions/deploy"),
    (
        "GET",
        "/fngate/functions/logs",
        "/fngate/functions/logs?app=app1&fn=fn1",
    ),
    ("GET", "/fngate/functions/status", "/fngate/functions/status"),
    ("GET", "/fngate/gateway/deployments", "/fngate/gateway/deployments"),
    (
        "GET",
        "/fngate/gateway/deployments/{name}",
        "/fngate/gateway/deployments/api",
    ),
    (
        "PUT",
        "/fngate/gateway/deployments/{name}",
        "/fngate/gateway/deployments/api",
    ),
    (
        "DELETE",
        "/fngate/gateway/deployments/{name}",
        "/fngate/gateway/deployments/api",
    ),
    ("POST", "/fngate/gateway/validate", "/fngate/gateway/validate"),
    ("GET", "/fngate/gateway/status", "/fngate/gateway/status"),
    ("GET", "/idp", "/idp"),
    ("POST", "/idp/tenants", "/idp/tenants"),
    ("POST", "/idp/apps", "/idp/apps"),
    ("DELETE", "/idp/apps/{app}", "/idp/apps/orders"),
    ("POST", "/idp/clients", "/idp/clients"),
    ("GET", "/idp/clients/{client}", "/idp/clients/<client_id>"),
    ("DELETE", "/idp/clients/{client}", "/idp/clients/<client_id>"),
    (
        "POST",
        "/idp/clients/{client}/grants",
        "/idp/clients/<client_id>/grants",
    ),
    (
        "GET",
        "/idp/clients/{client}/secrets",
        "/idp/clients/<client_id>/secrets",
    ),
    (
        "POST",
        "/idp/clients/{client}/secrets",
        "/idp/clients/<client_id>/secrets",
    ),
    (
        "DELETE",
        "/idp/clients/{client}/secrets/{secret}",
        "/idp/clients/<client_id>/secrets/<secret_id>",
    ),
    (
        "GET",
        "/idp/clients/{client}/certificates",
        "/idp/clients/<client_id>/certificates",
    ),
    (
        "POST",
        "/idp/clients/{client}/certificates",
        "/idp/clients/<client_id>/certificates",
    ),
    (
        "DELETE",
        "/idp/clients/{client}/certificates/{certificate}",
        "/idp/clients/<client_id>/certificates/no-such-certificate",
    ),
    ("PATCH", "/idp/clients/{client}", "/idp/clients/<client_id>"),
    ("PATCH", "/idp/apps/{app}", "/idp/apps/orders"),
    ("GET", "/idp/users", "/idp/users"),
    ("POST", "/idp/users", "/idp/users"),
    ("GET", "/idp/users/{user}", "/idp/users/no-such-user"),
    ("PATCH", "/idp/users/{user}", "/idp/users/no-such-user"),
    ("DELETE", "/idp/users/{user}", "/idp/users/no-such-user"),
    ("GET", "/idp/keys", "/idp/keys"),
    ("POST", "/idp/keys/rotate", "/idp/keys/rotate"),
    ("GET", "/idp/ca", "/idp/ca"),
    ("GET", "/fngate/status", "/fngate/status"),
];

/// The routes anyone may call: `/healthz` on the admin listener (and `/metrics`, with the metrics
/// token), Fn's data plane on the functions listener.
const OPEN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("ANY", "/t/{app}"),
    ("ANY", "/t/{app}/{*source}"),
];

/// The files whose routers make up the admin and functions listeners.
const ROUTER_SOURCES: &[&str] = &[
    "crates/fngate-functions/src/api.rs",
    "crates/fngate-gateway/src/admin.rs",
    "crates/fngate-idp/src/admin.rs",
    "crates/fngate/src/up.rs",
];

/// `(METHOD, path)` of every `.route(path, method(..).method(..))` in `source`.
fn declared_routes(source: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        let Some(close) = rest[open + 1..].find('"') else { break };
        let path = rest[open + 1..open + 1 + close].to_string();
        // The method calls directly inside `.route( … )`: identifiers followed by `(` at depth 0.
        let mut depth = 0usize;
        let mut word = String::new();
        for ch in rest[open + close + 2..].chars() {
            match ch {
                '(' => {
                    if depth == 0 && ["get", "post", "put", "delete", "patch", "any"].contains(&word.as_str()) {
                        routes.push((word.to_uppercase(), path.clone()));
                    }
                    depth += 1;
                    word.clear();
                }
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                c if c.is_alphanumeric() || c == '_' => word.push(c),
                _ => word.clear(),
            }
        }
    }
    routes
}

#[test]
fn the_route_list_covers_every_route_the_routers_declare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut declared = BTreeSet::new();
    for file in ROUTER_SOURCES {
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        for construct in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !source.contains(construct),
                "{file} uses {construct}: teach declared_routes() to follow it so its routes are checked"
            );
        }
        declared.extend(declared_routes(&source));
    }
    let listed: BTreeSet<(String, String)> = CONTROL_ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .chain(OPEN_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())))
        .collect();
    let unlisted: Vec<_> = declared.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "routes declared but not in CONTROL_ROUTES/OPEN_ROUTES: {unlisted:?}; listed but no longer declared: {stale:?}. \
         A new control-plane route is guarded by default: list it in CONTROL_ROUTES so this test calls it."
    );
}

/// A body that would change something were the call let through.
fn body_for(method: &str, template: &str, ids: &HashMap<&str, String>) -> Option<Value> {
    if !matches!(method, "POST" | "PUT" | "PATCH") {
        return None;
    }
    Some(match template {
        "/v2/apps" => json!({"name": "pwned"}),
        "/v2/apps/{id}" => json!({"config": {"PWNED": "1"}}),
        "/v2/fns" => json!({"name": "pwned", "app_id": ids["app_id"]}),
        "/v2/fns/{id}" => json!({"config": {"PWNED": "1"}}),
        "/v2/triggers" => {
            json!({"name": "pwned", "app_id": ids["app_id"], "fn_id": ids["fn_id"], "type": "http", "source": "/pwned"})
        }
        "/v2/triggers/{id}" => json!({"source": "/pwned"}),
        "/fngate/functions/deploy" => json!({"app": "pwned", "create_app": true, "dir": ids["fn_dir"]}),
        "/fngate/gateway/deployments/{name}" => json!({"pathPrefix": "/pwned", "specification": stock_spec("pwned")}),
        "/fngate/gateway/validate" => json!({"specification": stock_spec("pwned")}),
        "/idp/tenants" => json!({"name": "pwned"}),
        "/idp/apps" => json!({"name": "pwned", "identifier_uri": "api://pwned", "app_roles": ["Pwn"]}),
        "/idp/clients" => json!({"name": "pwned"}),
        "/idp/clients/{client}/grants" => json!({"grants": ["orders/Orders.Write"]}),
        "/idp/clients/{client}/secrets" => json!({"description": "pwned"}),
        "/idp/clients/{client}" => json!({"redirect_uris": ["https://pwned.example/cb"]}),
        "/idp/apps/{app}" => json!({"app_roles": ["Pwn"]}),
        "/idp/users" => json!({"name": "pwned", "password": "pwned-password-1"}),
        "/idp/users/{user}" => json!({"app_roles": ["orders/Orders.Admin"]}),
        "/idp/keys/rotate" => json!({"overlap_seconds": 0}),
        _ => json!({}),
    })
}

fn stock_spec(body: &str) -> Value {
    json!({"routes": [{"path": "/hello", "methods": ["GET"],
        "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": body}}]})
}

/// A token-holding client's view of all the state the control plane can change.
async fn state(server: &Server, ids: &HashMap<&str, String>) -> Value {
    let http = server.http();
    let mut all = serde_json::Map::new();
    for path in [
        "/v2/apps".to_string(),
        format!("/v2/fns?app_id={}", ids["app_id"]),
        format!("/v2/triggers?app_id={}", ids["app_id"]),
        "/fngate/gateway/deployments".to_string(),
        "/fngate/gateway/deployments/api".to_string(),
        "/idp".to_string(),
        "/idp/keys".to_string(),
        format!("/idp/clients/{}/secrets", ids["client_id"]),
    ] {
        let response = http.get(server.admin(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        all.insert(path, response.json().await.unwrap());
    }
    Value::Object(all)
}

fn concrete(path: &str, ids: &HashMap<&str, String>) -> String {
    let mut path = path.to_string();
    for (name, value) in ids {
        path = path.replace(&format!("<{name}>"), value);
    }
    path
}

/// Creates an app, a fn, a trigger, a deployment and IdP registrations with the token; returns
/// their ids.
async fn populate(server: &Server, fn_dir: &Path) -> HashMap<&'static str, String> {
    let http = server.http();
    let post = |path: &str, body: Value| {
        let request = http.post(server.admin(path)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.unwrap()
        }
    };
    let app = post("/v2/apps", json!({"name": "app1", "config": {"DB_PASSWORD": "s3cret"}})).await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let f = post("/v2/fns", json!({"name": "fn1", "app_id": app_id})).await;
    let fn_id = f["id"].as_str().unwrap().to_string();
    let trigger = post(
        "/v2/triggers",
        json!({"name": "t1", "app_id": app_id, "fn_id": fn_id, "type": "http", "source": "/t1"}),
    )
    .await;
    let response = http
        .put(server.admin("/fngate/gateway/deployments/api"))
        .json(&json!({"pathPrefix": "/v1", "specification": stock_spec("hello")}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    post(
        "/idp/apps",
        json!({"name": "orders", "identifier_uri": "api://orders", "app_roles": ["Orders.Read", "Orders.Write"]}),
    )
    .await;
    let client = post(
        "/idp/clients",
        json!({"name": "daemon", "grants": ["orders/Orders.Read"]}),
    )
    .await;
    HashMap::from([
        ("app_id", app_id),
        ("fn_id", fn_id),
        ("trigger_id", trigger["id"].as_str().unwrap().to_string()),
        ("client_id", client["client"]["client_id"].as_str().unwrap().to_string()),
        ("secret_id", client["secret"]["id"].as_str().unwrap().to_string()),
        ("fn_dir", fn_dir.display().to_string()),
    ])
}

/// Sends `method path` (with `body` as JSON) and the given headers; returns status, headers, body.
async fn call(
    url: &str,
    method: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_control_plane_route_refuses_anonymous_and_wrong_token_calls_and_changes_nothing() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let fn_dir = init(&server, work.path(), "python", "pwn", false);
    let ids = populate(&server, &fn_dir).await;
    let before = state(&server, &ids).await;
    let metrics_token = std::fs::read_to_string(server.data.join("metrics-token")).unwrap();
    let metrics_bearer = format!("Bearer {}", metrics_token.trim());
    let almost = {
        let token = server.admin_token();
        format!("Bearer {}0", &token[..token.len() - 1])
    };
    let credentials: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no credential", vec![]),
        ("a wrong bearer token", vec![("authorization", "Bearer wrong")]),
        ("the token but its last digit", vec![("authorization", almost.as_str())]),
        ("a wrong x-fngate-admin-token", vec![("x-fngate-admin-token", "wrong")]),
        ("the metrics token", vec![("authorization", metrics_bearer.as_str())]),
        ("basic credentials", vec![("authorization", "Basic YWRtaW46YWRtaW4=")]),
    ];
    let listeners = [("admin", server.admin("")), ("functions", server.functions(""))];
    let mut calls = 0;
    for (method, template, path) in CONTROL_ROUTES {
        let path = concrete(path, &ids);
        let body = body_for(method, template, &ids);
        // The route exists as written (a token-holder's TRACE gets 405, not 404), so the refusals
        // below are the guard's and not a missing route's.
        let (status, _, text) = call(
            &format!("{}{path}", server.admin("")),
            "TRACE",
            Some(&json!({})),
            &[("authorization", &format!("Bearer {}", server.admin_token()))],
        )
        .await;
        assert_eq!(status, 405, "{method} {template} is not routed as listed: {text}");
        for (listener, base) in &listeners {
            // Served on the functions listener or not, the path is guarded there: unknown paths too.
            for (what, headers) in &credentials {
                let (status, headers, text) = call(&format!("{base}{path}"), method, body.as_ref(), headers).await;
                assert_eq!(
                    status, 401,
                    "{method} {path} on the {listener} listener with {what}: {text}"
                );
                let message: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
                assert!(message["message"].as_str().unwrap().contains("admin token"), "{text}");
                assert_eq!(headers["content-type"], "application/json; charset=utf-8");
                assert_eq!(headers["www-authenticate"], "Bearer realm=\"fngate\"");
                calls += 1;
            }
        }
    }
    assert!(calls >= CONTROL_ROUTES.len() * credentials.len() * 2);
    // Nothing above took effect: not a create, update, delete, deploy, rotation or secret.
    assert_eq!(state(&server, &ids).await, before);
    let snapshots = std::fs::read_dir(server.data.join("functions/code"))
        .map(|dir| dir.count())
        .unwrap_or(0);
    assert_eq!(snapshots, 0, "no deploy copied any code");

    // The open routes stay open: health, Fn's data plane, the gateway, the IdP's public endpoints.
    assert_eq!(call(&server.admin("/healthz"), "GET", None, &[]).await.0, 200);
    assert_eq!(call(&server.functions("/"), "GET", None, &[]).await.0, 200);
    let (status, _, text) = call(&server.functions("/t/app1/t1"), "POST", None, &[]).await;
    assert_eq!(status, 500, "the trigger runs (its fn has no code yet): {text}");
    assert!(text.contains("fngate deploy"), "{text}");
    assert_eq!(call(&server.gateway("/v1/hello"), "GET", None, &[]).await.2, "hello");
    let tenant = before["/idp"]["default_tenant_id"].as_str().unwrap();
    let discovery = server.idp(&format!("/{tenant}/v2.0/.well-known/openid-configuration"));
    assert_eq!(call(&discovery, "GET", None, &[]).await.0, 200);

    // /metrics: the metrics token or the admin token, nothing else.
    assert_eq!(call(&server.admin("/metrics"), "GET", None, &[]).await.0, 401);
    assert_eq!(
        call(
            &server.admin("/metrics"),
            "GET",
            None,
            &[("authorization", "Bearer wrong")]
        )
        .await
        .0,
        401
    );
    let (status, _, text) = call(
        &server.admin("/metrics"),
        "GET",
        None,
        &[("authorization", &metrics_bearer)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.contains("fngate_gateway_requests_total"), "{text}");
    let admin_bearer = format!("Bearer {}", server.admin_token());
    assert_eq!(
        call(
            &server.admin("/metrics"),
            "GET",
            None,
            &[("authorization", &admin_bearer)]
        )
        .await
        .0,
        200
    );

    // The token holder gets through with either header.
    let (status, _, text) = call(
        &server.functions("/v2/apps"),
        "GET",
        None,
        &[("authorization", &admin_bearer)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.contains("s3cret"), "the token holder sees the config: {text}");
    let token = server.admin_token();
    assert_eq!(
        call(
            &server.admin("/v2/apps"),
            "GET",
            None,
            &[("x-fngate-admin-token", &token)]
        )
        .await
        .0,
        200
    );

    // The CLI says what to do on a 401.
    let out = server.cli(work.path(), &["list", "apps", "--admin-token", "wrong"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused the admin token given with --admin-token"),
        "{stderr}"
    );
    assert!(stderr.contains("<data-dir>/admin-token"), "{stderr}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = fngate()
        .args(["list", "apps", "--server", &server.admin(""), "--data-dir"])
        .arg(elsewhere.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the CLI has none: cannot read"), "{stderr}");
    assert!(
        stderr.contains("Run the CLI as the user who started `fngate up`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_and_non_json_state_changes_are_refused() {
    // The names come from the config file (`--allowed-hosts` and FNGATE_ALLOWED_HOSTS set the same).
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("fngate.yaml");
    std::fs::write(&config, "allowed_hosts:\n  - fngate.test\n  - 10.1.2.3\n").unwrap();
    let server = Server::start_with(ServerOptions {
        args: vec!["--config".into(), config.display().to_string()],
        ..ServerOptions::default()
    });
    let bearer = format!("Bearer {}", server.admin_token());
    let auth = ("authorization", bearer.as_str());
    let apps = || async {
        let listed: Value = server
            .http()
            .get(server.admin("/v2/apps"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed["items"].as_array().unwrap().len()
    };

    // DNS rebinding: the browser sends the attacker's name, even with a token it could not have.
    for url in [
        server.admin("/v2/apps"),
        server.functions("/v2/apps"),
        server.admin("/metrics"),
    ] {
        for host in ["rebind.attacker.example", "rebind.attacker.example:9090", "127.0.0.2"] {
            let (status, headers, text) = call(&url, "GET", None, &[auth, ("host", host)]).await;
            assert_eq!(status, 421, "{url} Host {host}: {text}");
            assert_eq!(headers["content-type"], "application/json; charset=utf-8");
            assert!(text.contains("--allowed-hosts"), "{text}");
        }
        for host in [
            "localhost",
            "127.0.0.1:1",
            "[::1]",
            "fngate.test:8443",
            "FNGATE.TEST",
            "10.1.2.3",
        ] {
            let (status, _, text) = call(&url, "GET", None, &[auth, ("host", host)]).await;
            assert_eq!(status, 200, "{url} Host {host}: {text}");
        }
    }
    // A foreign Host on a state change is refused before anything else.
    let (status, _, _) = call(
        &server.functions("/v2/apps"),
        "POST",
        Some(&json!({"name": "rebound"})),
        &[auth, ("host", "rebind.attacker.example")],
    )
    .await;
    assert_eq!(status, 421);
    // The data plane and health answer whatever the Host (as a gateway does).
    let (status, _, text) = call(
        &server.functions("/t/none/x"),
        "GET",
        None,
        &[("host", "anything.example")],
    )
    .await;
    assert_eq!((status, text.as_str()), (404, r#"{"message":"App not found"}"#));
    assert_eq!(
        call(&server.admin("/healthz"), "GET", None, &[("host", "anything.example")])
            .await
            .0,
        200
    );

    // A cross-site form can only send form and text types: JSON as text/plain is refused, with the
    // token, on both listeners, and nothing is created.
    for url in [server.functions("/v2/apps"), server.admin("/v2/apps")] {
        for content_type in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let response = reqwest::Client::new()
                .post(&url)
                .header("authorization", &bearer)
                .header("content-type", content_type)
                .body(r#"{"name":"viaform"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 415, "{url} {content_type}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({"message": "Content-Type must be application/json"}));
        }
    }
    for (url, path) in [
        (server.admin("/fngate/gateway/validate"), "gateway validate"),
        (server.admin("/idp/apps"), "idp apps"),
        (server.admin("/fngate/functions/deploy"), "deploy"),
    ] {
        let response = reqwest::Client::new()
            .post(&url)
            .header("authorization", &bearer)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{path}");
    }
    assert_eq!(apps().await, 0, "nothing was created");
    let (status, _, _) = call(
        &server.functions("/v2/apps"),
        "POST",
        Some(&json!({"name": "viajson"})),
        &[auth],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(apps().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_serve_guards_its_admin_api_and_its_cli_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start_idp(&data);
    for (method, template, path) in CONTROL_ROUTES.iter().filter(|(_, t, _)| t.starts_with("/idp")) {
        let path = path.replace("<client_id>", "c").replace("<secret_id>", "s");
        let body = body_for(
            method,
            template,
            &HashMap::from([("app_id", String::new()), ("fn_id", String::new())]),
        );
        let (status, _, text) = call(&server.admin(&path), method, body.as_ref(), &[]).await;
        assert_eq!(status, 401, "{method} {path}: {text}");
    }
    let out = server.cli_ok(tmp.path(), &["idp", "list", "--output", "json"], None);
    let overview: Value = serde_json::from_str(&out).unwrap();
    assert!(overview["default_tenant_id"].is_string(), "{out}");
}
