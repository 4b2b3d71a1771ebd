//! A function never sees the admin credential, whichever way it is called: the real Python fdk
//! reports `ctx.Headers()` and `ctx.HTTPHeaders()` over `fngate invoke` (admin listener), `/invoke`
//! on both listeners, an HTTP trigger and the gateway's function backend. An anonymous `/invoke`
//! does not reach the function at all.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const HEADERS_PY: &str = r#"import io
import json

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    print("called " + data.getvalue().decode(), flush=True)
    return response.Response(
        ctx,
        response_data=json.dumps({"headers": dict(ctx.Headers()), "http_headers": dict(ctx.HTTPHeaders())}),
        headers={"Content-Type": "application/json"},
    )
"#;

/// The headers the function saw, as one JSON text and as lowercased names.
fn seen(body: &str) -> (String, Vec<String>) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let names = ["headers", "http_headers"]
        .iter()
        .flat_map(|map| value[map].as_object().cloned().unwrap_or_default().into_iter())
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    (body.to_string(), names)
}

/// Asserts the function saw neither the token nor the admin header; `caller_auth` is the
/// `Authorization` a data-plane caller sent, which the function does see.
fn assert_clean(path: &str, body: &str, token: &str, caller_auth: Option<&str>) {
    let (text, names) = seen(body);
    assert!(
        !text.contains(token),
        "{path}: the function saw the admin token: {text}"
    );
    assert!(
        !names.iter().any(|n| n.contains("x-fngate-admin-token")),
        "{path}: the function saw the admin header: {names:?}"
    );
    match caller_auth {
        None => assert!(
            !names.iter().any(|n| n.ends_with("authorization")),
            "{path}: a control-plane call's Authorization reached the function: {names:?}"
        ),
        Some(auth) => assert!(
            text.contains(auth),
            "{path}: the caller's own Authorization is the function's: {text}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_never_see_the_admin_credential_on_any_path() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "hdr", true);
    std::fs::write(dir.join("func.py"), HEADERS_PY).unwrap();
    server.cli_ok(&dir, &["deploy", "--app", "hdrs", "--create-app"], None);
    let token = server.admin_token();
    let bearer = format!("Bearer {token}");
    let fn_id = server.fn_id("hdrs", "hdr").await;

    // fngate invoke: through the admin listener, with Authorization: Bearer.
    let out = server.cli_ok(&dir, &["invoke", "hdrs", "hdr"], Some(b"cli"));
    assert_clean("fngate invoke", &out, &token, None);

    // /invoke on each listener, with both ways of sending the token.
    for (listener, url) in [
        ("admin", server.admin(&format!("/invoke/{fn_id}"))),
        ("functions", server.functions(&format!("/invoke/{fn_id}"))),
    ] {
        let response = post(
            &url,
            "invoke",
            &[("authorization", &bearer), ("x-fngate-admin-token", &token)],
        )
        .await;
        assert_eq!(response.status(), 200, "{listener}");
        assert_clean(
            &format!("/invoke on {listener}"),
            &response.text().await.unwrap(),
            &token,
            None,
        );
        let response = post(&url, "invoke", &[("X-Fngate-Admin-Token", &token)]).await;
        assert_eq!(response.status(), 200, "{listener}");
        assert_clean(
            &format!("/invoke on {listener}"),
            &response.text().await.unwrap(),
            &token,
            None,
        );
    }

    // An HTTP trigger: the admin header is dropped, the caller's own Authorization passes (Fn).
    let caller = "Bearer caller-token";
    let response = post(
        &server.functions("/t/hdrs/hdr"),
        "trigger",
        &[("authorization", caller), ("x-fngate-admin-token", &token)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_clean("/t/ trigger", &response.text().await.unwrap(), &token, Some(caller));

    // The gateway's function backend: likewise.
    let spec = json!({"routes": [{"path": "/hdr", "methods": ["POST"],
        "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": fn_id}}]});
    let response = server
        .http()
        .put(server.admin("/fngate/gateway/deployments/hdr"))
        .json(&json!({"pathPrefix": "/g", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let response = post(
        &server.gateway("/g/hdr"),
        "gateway",
        &[("authorization", caller), ("x-fngate-admin-token", &token)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_clean("gateway", &response.text().await.unwrap(), &token, Some(caller));

    // Without the token, /invoke never reaches the function: a later call's output shows in the
    // logs, the refused one's never does.
    for (url, headers) in [
        (server.functions(&format!("/invoke/{fn_id}")), vec![]),
        (
            server.admin(&format!("/invoke/{fn_id}")),
            vec![("x-fngate-admin-token", "guess")],
        ),
    ] {
        let response = post(&url, "anonymous-call", &headers).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(server.invoker(&fn_id).post("after", &[]).await.status(), 200);
    assert!(
        eventually(Duration::from_secs(5), || async {
            server
                .cli_ok(&dir, &["logs", "hdrs", "hdr"], None)
                .contains("called after")
        })
        .await
    );
    let logs = server.cli_ok(&dir, &["logs", "hdrs", "hdr"], None);
    assert!(!logs.contains("anonymous-call"), "{logs}");
}
