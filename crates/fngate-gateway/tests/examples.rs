//! The repository's example specifications (`examples/` at the top of the repo) load and serve, with
//! their placeholders filled: JWKS from a local key server, functions from the test invoker,
//! HTTP backends from a local upstream.

mod common;

use std::net::SocketAddr;

use common::{TestGateway, Upstream, client};
use fngate_test_jwt::JwksServer;
use serde_json::{Value, json};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const AUDIENCE: &str = "api://6e1f0c2a-7b3d-4c8e-9f10-a1b2c3d4e5f6";

/// A JWKS server publishing one key, and Entra v1 tokens signed with it.
struct Idp {
    jwks: JwksServer,
}

async fn idp() -> Idp {
    let key = &fngate_test_jwt::keys()[0];
    Idp {
        jwks: JwksServer::start(&[key]).await,
    }
}

impl Idp {
    fn token(&self, tenant: &str, audience: &str) -> String {
        let now = fngate_test_jwt::now();
        let claims = json!({"iss": format!("https://sts.windows.net/{tenant}/"), "aud": audience, "tid": tenant,
            "appid": "app-1", "oid": "oid-1", "sub": "sub-1", "iat": now, "nbf": now, "exp": now + 600});
        fngate_test_jwt::rs256(&fngate_test_jwt::keys()[0], &claims)
    }
}

/// Fills the placeholders of an example: every URL and id that points outside this machine.
fn fill(value: &mut Value, jwks_uri: &str, upstream: SocketAddr) {
    match value {
        Value::String(s) => {
            let replaced = if s.starts_with("https://login.microsoftonline.com/") {
                jwks_uri.to_string()
            } else if s.starts_with("ocid1.fnfunc") || s == "<function-id>" {
                "app/echo".to_string()
            } else {
                s.replace("https://items.internal.example.com", &format!("http://{upstream}"))
                    .replace("https://cdn.example.com", &format!("http://{upstream}"))
                    .replace("<tenant-id>", TENANT)
                    .replace("<oci-app-client-id>", "client-1")
            };
            *s = replaced;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, jwks_uri, upstream)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, jwks_uri, upstream)),
        _ => {}
    }
}

fn example(name: &str, idp: &Idp, upstream: SocketAddr) -> Value {
    let path = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fill(&mut spec, &idp.jwks.jwks_uri(), upstream);
    spec
}

#[tokio::test]
async fn seed_examples_serve_the_function_to_token_holders_only() {
    let idp = idp().await;
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    for (i, file) in ["seed-deployment.token-auth.json", "seed-deployment.jwt-auth.json"]
        .iter()
        .enumerate()
    {
        let prefix = format!("/seed{i}");
        gw.deploy(&format!("seed{i}"), &prefix, example(file, &idp, upstream.addr))
            .await;
        let c = client();
        let r = c.get(gw.url(&format!("{prefix}/python-func"))).send().await.unwrap();
        assert_eq!(r.status(), 401, "{file}");
        let good = idp.token(TENANT, "api://client-1");
        let r = c
            .get(gw.url(&format!("{prefix}/python-func?name=x")))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{file}: the echo function answered");
        let (_, call) = gw.invoker.calls.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            call.headers["fn-http-request-url"],
            format!("{prefix}/python-func?name=x")
        );
        let wrong_audience = idp.token(TENANT, "api://someone-else");
        let r = c
            .get(gw.url(&format!("{prefix}/python-func")))
            .bearer_auth(wrong_audience)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{file}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn full_featured_example_serves_every_route() {
    let idp = idp().await;
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "full",
        "/v1",
        example("full-featured.token-auth.json", &idp, upstream.addr),
    )
    .await;
    let c = client();
    let token = idp.token(TENANT, AUDIENCE);

    let r = c
        .get(gw.url("/v1/python-func"))
        .bearer_auth(&token)
        .header("X-Debug", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (_, call) = gw.invoker.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        call.headers["fn-http-h-x-user-oid"], "oid-1",
        "claim substituted into a header"
    );
    assert!(!call.headers.contains_key("fn-http-h-x-debug"), "filtered header");

    let r = c
        .put(gw.url("/v1/items/42"))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/v2/items/42");
    assert_eq!(echo["headers"]["x-caller-appid"], "app-1");
    assert_eq!(c.put(gw.url("/v1/items/42")).send().await.unwrap().status(), 401);

    let r = c.get(gw.url("/v1/static/css/site.css")).send().await.unwrap();
    assert_eq!(r.status(), 200, "anonymous route");
    assert_eq!(r.json::<Value>().await.unwrap()["path"], "/assets/css/site.css");

    let r = c
        .get(gw.url("/v1/health"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
    assert_eq!(c.delete(gw.url("/v1/health")).send().await.unwrap().status(), 405);
    gw.stop().await;
}
