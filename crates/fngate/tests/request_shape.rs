//! What a function sees of an HTTP request, through the gateway and through an HTTP trigger, as the
//! real Python fdk (`ctx.Headers()`, `ctx.HTTPHeaders()`) and the real Node fdk (`ctx.headers`,
//! `ctx.httpGateway.headers`) report it (issue #13, item 6).
//!
//! The two fronts wrap the same way (one implementation, `fngate_invoke::http_front`) except where
//! Fn and OCI differ: OCI API Gateway also sends `Content-Type` as `Fn-Http-H-Content-Type` (and
//! wraps `Host` / `Content-Length`), so fdk-python's `ctx.Headers()["content-type"]` is a two-item
//! list through the gateway, exactly as Oracle's own sample dumps show; Fn's trigger sends it
//! un-prefixed only, so it is a string there.

mod support;

use serde_json::{Value, json};
use support::*;

const PY: &str = r#"import io
import json

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    return response.Response(
        ctx,
        response_data=json.dumps({"headers": dict(ctx.Headers()), "http": dict(ctx.HTTPHeaders())}),
        headers={"Content-Type": "application/json", "X-Fn-Answer": "py"},
    )
"#;

const NODE: &str = r#"const fdk = require('@fnproject/fdk');

fdk.handle(function (input, ctx) {
  ctx.httpGateway.setResponseHeader('X-Fn-Answer', 'node');
  return { headers: ctx.headers, http: ctx.httpGateway.headers };
}, { inputMode: 'string' });
"#;

/// POSTs a text body with a custom header and a header `Connection` names; returns the
/// function's JSON and the response's `x-fn-answer`.
async fn call(url: &str) -> (Value, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "text/plain")
        .header("x-custom", "v")
        .header("connection", "x-hop")
        .header("x-hop", "must not reach the function")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let answer = response.headers()["x-fn-answer"].to_str().unwrap().to_string();
    let types: Vec<_> = response.headers().get_all("content-type").iter().collect();
    assert_eq!(types.len(), 1, "{url}: one Content-Type in the answer: {types:?}");
    let text = response.text().await.unwrap();
    (
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{url}: not JSON: {text}")),
        answer,
    )
}

/// `map[name]` looked up case-insensitively (the Node fdk canonicalises names).
fn get<'a>(map: &'a Value, name: &str) -> Option<&'a Value> {
    map.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn no_hop(seen: &Value, path: &str) {
    for map in ["headers", "http"] {
        let text = seen[map].to_string().to_ascii_lowercase();
        assert!(!text.contains("must not reach"), "{path}: {map}: {text}");
        assert!(get(&seen[map], "x-hop").is_none(), "{path}: {map}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_node_see_the_request_as_fn_and_oci_show_it() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let py = init(&server, work.path(), "python", "pyshape", true);
    std::fs::write(py.join("func.py"), PY).unwrap();
    server.cli_ok(&py, &["deploy", "--app", "shape", "--create-app"], None);
    let node = init(&server, work.path(), "node", "nodeshape", true);
    std::fs::write(node.join("func.js"), NODE).unwrap();
    server.cli_ok(&node, &["deploy", "--app", "shape"], None);

    let spec = json!({"routes": [
        {"path": "/py", "methods": ["POST"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "shape/pyshape"}},
        {"path": "/node", "methods": ["POST"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "shape/nodeshape"}},
    ]});
    let response = server
        .http()
        .put(server.admin("/fngate/gateway/deployments/shape"))
        .json(&json!({"pathPrefix": "/s", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());

    // Python through the HTTP trigger: Fn's shape, Content-Type a string.
    let (seen, answer) = call(&server.functions("/t/shape/pyshape")).await;
    eprintln!("python /t/: {seen}");
    assert_eq!(answer, "py");
    assert_eq!(seen["headers"]["content-type"], "text/plain", "{seen}");
    assert_eq!(seen["headers"]["x-custom"], "v");
    assert_eq!(seen["http"]["x-custom"], "v");
    assert!(seen["http"].get("content-type").is_none(), "{seen}");
    assert!(seen["http"].get("host").is_none(), "Fn never wraps Host: {seen}");
    no_hop(&seen, "python /t/");

    // Python through the gateway: OCI's shape, Content-Type twice in Headers(), once in HTTPHeaders().
    let (seen, answer) = call(&server.gateway("/s/py")).await;
    eprintln!("python gateway: {seen}");
    assert_eq!(answer, "py");
    assert_eq!(
        seen["headers"]["content-type"],
        json!(["text/plain", "text/plain"]),
        "{seen}"
    );
    assert_eq!(seen["http"]["content-type"], "text/plain", "{seen}");
    assert_eq!(seen["headers"]["x-custom"], "v");
    assert_eq!(seen["http"]["x-custom"], "v");
    assert!(seen["http"].get("host").is_some(), "OCI wraps Host: {seen}");
    assert_eq!(seen["headers"]["fn-invoke-type"], "sync");
    no_hop(&seen, "python gateway");

    // Node: ctx.headers carries every value of every header as a list; the gateway view
    // (ctx.httpGateway.headers) un-prefixes the Fn-Http-H-* ones.
    let (seen, answer) = call(&server.functions("/t/shape/nodeshape")).await;
    eprintln!("node /t/: {seen}");
    assert_eq!(answer, "node");
    assert_eq!(
        get(&seen["headers"], "content-type"),
        Some(&json!(["text/plain"])),
        "{seen}"
    );
    assert_eq!(get(&seen["http"], "x-custom"), Some(&json!(["v"])), "{seen}");
    assert!(get(&seen["http"], "content-type").is_none(), "{seen}");
    no_hop(&seen, "node /t/");

    let (seen, answer) = call(&server.gateway("/s/node")).await;
    eprintln!("node gateway: {seen}");
    assert_eq!(answer, "node");
    assert_eq!(
        get(&seen["headers"], "content-type"),
        Some(&json!(["text/plain"])),
        "{seen}"
    );
    assert_eq!(
        get(&seen["http"], "content-type"),
        Some(&json!(["text/plain"])),
        "{seen}"
    );
    assert_eq!(get(&seen["http"], "x-custom"), Some(&json!(["v"])), "{seen}");
    no_hop(&seen, "node gateway");
}
