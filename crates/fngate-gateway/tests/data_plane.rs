//! The gateway over real sockets: routing, backends, policies, limits.

mod common;

use std::time::Duration;

use common::{TestGateway, Upstream, client};
use serde_json::{Value, json};

fn stock(status: u16, body: &str) -> Value {
    json!({"type": "STOCK_RESPONSE_BACKEND", "status": status, "body": body,
           "headers": [{"name": "Content-Type", "value": "text/plain"}]})
}

#[tokio::test]
async fn routes_by_precedence_with_404_405_and_request_ids() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "api",
        "/v1",
        json!({"routes": [
            {"path": "/{all*}", "methods": ["ANY"], "backend": stock(200, "wildcard")},
            {"path": "/items/{id}", "methods": ["GET", "HEAD"], "backend": stock(200, "param")},
            {"path": "/items/new", "methods": ["GET"], "backend": stock(200, "static")},
        ]}),
    )
    .await;
    gw.deploy(
        "other",
        "/v2",
        json!({"routes": [{"path": "/only", "methods": ["POST"], "backend": stock(202, "posted")}]}),
    )
    .await;
    let c = client();
    for (path, body) in [
        ("/v1/items/new", "static"),
        ("/v1/items/42", "param"),
        ("/v1/items/42/more", "wildcard"),
        ("/v1", "wildcard"),
    ] {
        let r = c.get(gw.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let id = r.headers()["opc-request-id"].to_str().unwrap().to_string();
        assert!(!id.is_empty());
        assert_eq!(r.text().await.unwrap(), body, "{path}");
    }
    // HEAD: headers without a body.
    let r = c.head(gw.url("/v1/items/7")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");

    let r = c.get(gw.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("opc-request-id"));
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 404, "message": "Not Found"})
    );

    let r = c.get(gw.url("/v2/only")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 405, "message": "Method Not Allowed"})
    );
    // A prefix only matches whole segments.
    assert_eq!(c.post(gw.url("/v2x/only")).send().await.unwrap().status(), 404);
    assert_eq!(c.post(gw.url("/v2/only")).send().await.unwrap().status(), 202);

    let status = gw.gateway.status();
    assert_eq!(status.len(), 2);
    assert_eq!(
        status[0].routes[0].path, "/items/new",
        "routes listed most specific first"
    );
    gw.stop().await;
}

#[tokio::test]
async fn http_backend_proxies_with_context_variables_and_forwarded_headers() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "api",
        "/v1",
        json!({"routes": [
            {"path": "/items/{id}", "methods": ["ANY"],
             "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/v2/items/${{request.path[id]}}", upstream.addr)},
             "requestPolicies": {
                "headerTransformations": {
                    "setHeaders": {"items": [{"name": "X-From-Query", "values": ["${request.query[q]}"]}]},
                    "renameHeaders": {"items": [{"from": "X-Old", "to": "X-New"}]},
                    "filterHeaders": {"type": "BLOCK", "items": [{"name": "X-Debug"}]}},
                "queryParameterTransformations": {
                    "setQueryParameters": {"items": [{"name": "added", "values": ["yes"]}]},
                    "filterQueryParameters": {"type": "BLOCK", "items": [{"name": "secret"}]}}},
             "responsePolicies": {"headerTransformations": {
                "setHeaders": {"items": [{"name": "Cache-Control", "values": ["no-store"], "ifExists": "SKIP"}]}}}},
            {"path": "/slow", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/slow", upstream.addr),
                                          "readTimeoutInSeconds": 1, "sendTimeoutInSeconds": 1}},
            {"path": "/down", "backend": {"type": "HTTP_BACKEND", "url": "http://127.0.0.1:9/"}},
        ]}),
    )
    .await;
    let c = client();
    let r = c
        .post(gw.url("/v1/items/San+Jos%C3%A9?q=hello&secret=s"))
        .header("X-Old", "o")
        .header("X-Debug", "1")
        .header("Connection", "keep-alive, X-Hop")
        .header("X-Hop", "h")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/v2/items/San+Jos%C3%A9", "URL encoding preserved");
    assert_eq!(echo["query"], "q=hello&added=yes");
    assert_eq!(echo["body"], "payload");
    let h = &echo["headers"];
    assert_eq!(h["x-from-query"], "hello");
    assert_eq!(h["x-new"], "o");
    assert!(h.get("x-old").is_none() && h.get("x-debug").is_none() && h.get("x-hop").is_none());
    assert_eq!(h["host"], upstream.addr.to_string());
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1");
    assert_eq!(h["x-forwarded-host"], gw.addr.to_string());
    assert!(h["opc-request-id"].as_str().is_some());

    let r = c.get(gw.url("/v1/slow")).send().await.unwrap();
    assert_eq!(r.status(), 504);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 504);
    let r = c.get(gw.url("/v1/down")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    gw.stop().await;
}

/// IPv6 end to end: a client on `::1`, the gateway on `[::1]`, a backend addressed as
/// `http://[::1]:port`. The client address reaches the backend in the forms each header takes
/// (`Forwarded` quotes and brackets it), and `CLIENT_IP` rate limiting keys on it.
#[tokio::test]
async fn ipv6_clients_and_backends_are_forwarded_and_rate_limited() {
    let Ok(gateway_listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        // Some containers have no IPv6 loopback at all; say so rather than pass in silence.
        eprintln!("SKIPPED: this machine cannot bind [::1]");
        return;
    };
    let upstream = Upstream::serve_on(tokio::net::TcpListener::bind("[::1]:0").await.unwrap());
    let gw = TestGateway::serve_on(gateway_listener, tempfile::tempdir().unwrap(), None).await;
    assert!(gw.addr.is_ipv6());
    gw.deploy(
        "v6",
        "/v6",
        json!({"requestPolicies": {"rateLimiting": {"rateInRequestsPerSecond": 2, "rateKey": "CLIENT_IP"}},
               "routes": [{"path": "/echo", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/e", upstream.addr)}}]}),
    )
    .await;
    let c = client();
    let r = c
        .get(gw.url("/v6/echo"))
        .header("X-Forwarded-For", "2001:db8::7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    let h = &echo["headers"];
    assert_eq!(echo["path"], "/e");
    assert_eq!(h["host"], upstream.addr.to_string(), "[::1]:port as the Host");
    assert_eq!(h["x-forwarded-for"], "2001:db8::7, ::1", "the chain is extended");
    assert_eq!(h["x-real-ip"], "::1");
    assert_eq!(h["forwarded"], "for=\"[::1]\"");

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(c.get(gw.url("/v6/echo")).send().await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "2 per second for ::1, 7 sent: {statuses:?}");
    gw.stop().await;
}

#[tokio::test]
async fn http_backend_with_a_literal_url_forwards_queries_ids_and_context_correctly() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "lit",
        "/",
        json!({"routes": [
            {"path": "/plain", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/base?fixed=1", upstream.addr)}},
            {"path": "/echo-who", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/who", upstream.addr)},
             "responsePolicies": {"headerTransformations": {
                "setHeaders": {"items": [{"name": "X-Who-Was", "values": ["${request.headers[X-Who]}"]}]}}}},
        ]}),
    )
    .await;
    let c = client();
    // No query: the URL parsed at load time is used as is.
    let r = c.get(gw.url("/plain")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let response_id = r.headers()["opc-request-id"].to_str().unwrap().to_string();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/base");
    assert_eq!(echo["query"], "fixed=1");
    assert_eq!(
        echo["headers"]["opc-request-id"],
        response_id.as_str(),
        "one id for client and backend"
    );
    // With a query: appended after the URL's own; a prior X-Forwarded-For is extended.
    let r = c
        .get(gw.url("/plain?a=1&b=%20"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/base");
    assert_eq!(echo["query"], "fixed=1&a=1&b=%20");
    assert_eq!(echo["headers"]["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    // A response transformation reads the client's headers after the proxy rewrote them.
    let r = c
        .get(gw.url("/echo-who"))
        .header("X-Who", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-who-was"], "alice");
    gw.stop().await;
}

#[tokio::test]
async fn function_backend_sends_oci_headers_and_unwraps_the_answer() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "fns",
        "/v1",
        json!({"routes": [
            {"path": "/echo", "methods": ["POST"], "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "app/echo"}},
            {"path": "/fail", "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "fail"}},
            {"path": "/slow", "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "slow"}},
        ]}),
    )
    .await;
    let c = client();
    let r = c
        .post(gw.url("/v1/echo?name=x&b=2"))
        .header("Content-Type", "text/plain")
        .header("X-Custom", "c")
        .body("hello fn")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "Fn-Http-Status becomes the status");
    assert_eq!(r.headers()["x-fn-saw-method"], "POST");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(!r.headers().contains_key("x-not-forwarded"));
    assert_eq!(r.text().await.unwrap(), "hello fn");
    let (fn_id, call) = gw.invoker.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(fn_id, "fnid-echo");
    let h = &call.headers;
    assert_eq!(h["fn-intent"], "httprequest");
    assert_eq!(h["fn-invoke-type"], "sync");
    assert_eq!(h["fn-http-method"], "POST");
    assert_eq!(h["fn-http-request-url"], "/v1/echo?name=x&b=2");
    assert_eq!(h["fn-http-h-x-custom"], "c");
    assert_eq!(h["fn-http-h-host"], gw.addr.to_string());
    assert_eq!(h["content-type"], "text/plain");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1");

    // A chain the client sent is extended, as for HTTP backends.
    let r = c
        .post(gw.url("/v1/echo"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the echo function answers 201");
    let (_, call) = gw.invoker.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(call.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(call.headers["fn-http-h-x-forwarded-for"], "203.0.113.7");

    assert_eq!(c.get(gw.url("/v1/fail")).send().await.unwrap().status(), 502);
    assert_eq!(c.get(gw.url("/v1/slow")).send().await.unwrap().status(), 504);

    // Over 6 MB to a function: 413 before the function is called.
    let calls = gw.invoker.calls.lock().unwrap().len();
    let r = c
        .post(gw.url("/v1/echo"))
        .body(vec![b'x'; 6 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(gw.invoker.calls.lock().unwrap().len(), calls);

    // An unknown function is a deployment error naming the field.
    let err = gw
        .gateway
        .deploy(
            "bad",
            "/bad",
            fngate_spec::SpecFormat::Json,
            &json!({"routes": [{"path": "/x", "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "nope"}}]})
                .to_string(),
        )
        .await
        .unwrap_err();
    match err {
        fngate_gateway::DeployError::Invalid { errors, .. } => {
            assert_eq!(errors[0].path, "routes[0].backend.functionId", "{errors:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    gw.stop().await;
}

#[tokio::test]
async fn dynamic_routing_picks_by_selector_with_default() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "dyn",
        "/",
        json!({"routes": [{"path": "/pick", "backend": {"type": "DYNAMIC_ROUTING_BACKEND",
            "selectionSource": {"type": "SINGLE", "selector": "request.headers[X-Tier]"},
            "routingBackends": [
                {"key": {"type": "ANY_OF", "name": "gold", "values": ["gold", "platinum"]}, "backend": stock(200, "gold")},
                {"key": {"type": "WILDCARD", "name": "beta", "expression": "beta-*"}, "backend": stock(200, "beta")},
                {"key": {"type": "ANY_OF", "name": "rest", "values": ["basic"], "isDefault": true}, "backend": stock(200, "default")}
            ]}}]}),
    )
    .await;
    let c = client();
    for (tier, want) in [
        (Some("platinum"), "gold"),
        (Some("beta-7"), "beta"),
        (Some("other"), "default"),
        (None, "default"),
    ] {
        let mut req = c.get(gw.url("/pick"));
        if let Some(t) = tier {
            req = req.header("X-Tier", t);
        }
        assert_eq!(req.send().await.unwrap().text().await.unwrap(), want, "{tier:?}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn cors_preflight_rate_limit_and_validation() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "pol",
        "/p",
        json!({
            "requestPolicies": {
                "cors": {"allowedOrigins": ["https://app.example.com"], "allowedMethods": ["GET", "POST"],
                         "allowedHeaders": ["Authorization"], "exposedHeaders": ["opc-request-id"],
                         "isAllowCredentialsEnabled": true, "maxAgeInSeconds": 600}},
            "routes": [
                {"path": "/open", "methods": ["GET"], "backend": stock(200, "ok")},
                {"path": "/checked", "methods": ["POST"], "backend": stock(200, "valid"),
                 "requestPolicies": {
                    "headerValidations": {"headers": [{"name": "X-Api-Key", "required": true}]},
                    "queryParameterValidations": {"parameters": [{"name": "id", "required": true}], "validationMode": "ENFORCING"},
                    "bodyValidation": {"required": true, "content": {"application/json": {"validationType": "NONE"}}}}}
            ]}),
    )
    .await;
    let c = client();
    let r = c
        .request(reqwest::Method::OPTIONS, gw.url("/p/open"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "preflight answered by the gateway even though the route has no OPTIONS"
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(r.headers()["access-control-allow-methods"], "GET, POST");
    assert_eq!(r.headers()["access-control-max-age"], "600");

    let r = c
        .get(gw.url("/p/open"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(r.headers()["access-control-expose-headers"], "opc-request-id");
    let r = c
        .get(gw.url("/p/open"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    // Validation: each missing piece is named; a wrong content type is 415.
    let r = c
        .post(gw.url("/p/checked?id=1"))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("x-api-key"));
    let r = c
        .post(gw.url("/p/checked?id=1"))
        .header("X-Api-Key", "k")
        .header("Content-Type", "text/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // The bucket holds 3 per second for this client; one of the next 10 is refused with Retry-After.
    gw.deploy(
        "limited",
        "/rl",
        json!({"requestPolicies": {"rateLimiting": {"rateInRequestsPerSecond": 3, "rateKey": "CLIENT_IP"}},
               "routes": [{"path": "/open", "backend": stock(200, "ok")}]}),
    )
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let r = c.get(gw.url("/rl/open")).send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limit never triggered");
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 429, "message": "Too Many Requests"})
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(c.get(gw.url("/rl/open")).send().await.unwrap().status(), 200);
    // Other deployments are not limited by this one's bucket.
    assert_eq!(c.get(gw.url("/p/open")).send().await.unwrap().status(), 200);
    gw.stop().await;
}

#[tokio::test]
async fn oversized_heads_and_bodies_get_documented_errors() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "lim",
        "/",
        json!({"routes": [{"path": "/up", "methods": ["POST"], "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/", upstream.addr)}}]}),
    )
    .await;
    let c = client();
    let r = c
        .get(gw.url("/up"))
        .header("X-Big", "a".repeat(9000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 431);
    let r = c
        .post(gw.url("/up"))
        .body(vec![0u8; 20 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Streaming (no Content-Length) past the limit is cut off too.
    let chunks = futures_util::stream::iter((0..21).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1024 * 1024])));
    let r = c
        .post(gw.url("/up"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
    }
    // Garbage specs are refused with every problem, nothing stored.
    let err = gw
        .gateway
        .deploy(
            "broken",
            "no-slash",
            fngate_spec::SpecFormat::Json,
            r#"{"routes":[{"path":"x//y","backend":{"type":"STOCK_RESPONSE_BACKEND","status":99}}]}"#,
        )
        .await
        .unwrap_err();
    let fngate_gateway::DeployError::Invalid { errors, .. } = err else {
        panic!("{err:?}")
    };
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(gw.gateway.status().iter().all(|d| d.name != "broken"));
    gw.stop().await;
}

#[tokio::test]
async fn cors_wildcard_origins_match_subdomains_with_the_same_scheme() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "wild",
        "/w",
        json!({
            "requestPolicies": {"cors": {"allowedOrigins": ["https://*.example.com"], "allowedMethods": ["GET"]}},
            "routes": [{"path": "/open", "methods": ["GET"], "backend": stock(200, "ok")}]}),
    )
    .await;
    let c = client();
    for origin in ["https://a.example.com", "https://a.b.example.com"] {
        let r = c.get(gw.url("/w/open")).header("Origin", origin).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
        assert_eq!(r.headers()["vary"], "Origin");
        let r = c
            .request(reqwest::Method::OPTIONS, gw.url("/w/open"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
        assert_eq!(r.headers()["access-control-allow-methods"], "GET");
    }
    for origin in ["https://example.org", "http://a.example.com", "https://example.com"] {
        let r = c.get(gw.url("/w/open")).header("Origin", origin).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(!r.headers().contains_key("access-control-allow-origin"), "{origin}");
        assert_eq!(r.headers()["vary"], "Origin", "the answer still depends on Origin");
        let r = c
            .request(reqwest::Method::OPTIONS, gw.url("/w/open"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert!(!r.headers().contains_key("access-control-allow-origin"), "{origin}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn route_cors_answers_preflights_for_the_route_that_serves_the_requested_method() {
    const A: &str = "https://a.example.com";
    const B: &str = "https://b.example.com";
    let public_pem = fngate_test_jwt::keys()[0].public_pem.clone();
    let route_cors = json!({"allowedOrigins": [B], "allowedMethods": ["GET"]});
    let anonymous = json!({"type": "ANONYMOUS"});
    let gw = TestGateway::start().await;
    gw.deploy(
        "ovr",
        "/o",
        json!({
        "requestPolicies": {
            "cors": {"allowedOrigins": [A], "allowedMethods": ["*"]},
            "authentication": {"type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization",
                "tokenAuthScheme": "Bearer", "isAnonymousAccessAllowed": true,
                "validationPolicy": {"type": "STATIC_KEYS",
                    "keys": [{"format": "PEM", "kid": "k1", "key": public_pem}]}}},
        "routes": [
            {"path": "/{all*}", "methods": ["ANY"], "backend": stock(200, "fallback"),
             "requestPolicies": {"authorization": anonymous}},
            {"path": "/items/{id}", "methods": ["GET"], "backend": stock(200, "item"),
             "requestPolicies": {"cors": route_cors, "authorization": anonymous}},
            {"path": "/items/{id}/secret", "methods": ["GET"], "backend": stock(200, "secret"),
             "requestPolicies": {"cors": route_cors}}
        ]}),
    )
    .await;
    gw.deploy(
        "noany",
        "/n",
        json!({
            "requestPolicies": {"cors": {"allowedOrigins": [A]}},
            "routes": [{"path": "/items/{id}", "methods": ["GET"], "backend": stock(200, "item"),
                        "requestPolicies": {"cors": route_cors}}]}),
    )
    .await;
    gw.deploy(
        "limited",
        "/rl",
        json!({
            "requestPolicies": {"cors": {"allowedOrigins": [A]},
                                "rateLimiting": {"rateInRequestsPerSecond": 1, "rateKey": "CLIENT_IP"}},
            "routes": [{"path": "/items/{id}", "methods": ["GET"], "backend": stock(200, "item"),
                        "requestPolicies": {"cors": route_cors}}]}),
    )
    .await;
    let c = client();
    let preflight = |path: &str, origin: &str, method: &str| {
        c.request(reqwest::Method::OPTIONS, gw.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .send()
    };
    let allowed = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };

    // GET /o/items/1 is served by the specific route: its policy (B only) answers the preflight,
    // not the deployment's (A) that the ANY wildcard route carries.
    let r = preflight("/o/items/1", B, "GET").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(allowed(&r).as_deref(), Some(B));
    assert_eq!(r.headers()["access-control-allow-methods"], "GET");
    let r = preflight("/o/items/1", A, "GET").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(allowed(&r), None);
    // POST /o/items/1 would reach the wildcard route: the deployment's policy answers.
    let r = preflight("/o/items/1", A, "POST").await.unwrap();
    assert_eq!(allowed(&r).as_deref(), Some(A));
    assert_eq!(r.headers()["access-control-allow-methods"], "POST");
    assert_eq!(allowed(&preflight("/o/items/1", B, "POST").await.unwrap()), None);

    // Actual requests carry the serving route's policy.
    let r = c.get(gw.url("/o/items/1")).header("Origin", B).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(allowed(&r).as_deref(), Some(B));
    assert_eq!(r.text().await.unwrap(), "item");
    let r = c.get(gw.url("/o/items/1")).header("Origin", A).send().await.unwrap();
    assert_eq!(allowed(&r), None);
    let r = c.get(gw.url("/o/other")).header("Origin", A).send().await.unwrap();
    assert_eq!(allowed(&r).as_deref(), Some(A));

    // Gateway errors carry CORS headers too, so a browser can read them.
    let r = c
        .get(gw.url("/o/items/1/secret"))
        .header("Origin", B)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(allowed(&r).as_deref(), Some(B));
    assert_eq!(r.headers()["vary"], "Origin");
    let r = c.post(gw.url("/n/items/1")).header("Origin", B).send().await.unwrap();
    assert_eq!(r.status(), 405, "path matched, method not: the route's policy");
    assert_eq!(allowed(&r).as_deref(), Some(B));
    let r = c.get(gw.url("/n/nothing")).header("Origin", A).send().await.unwrap();
    assert_eq!(r.status(), 404, "no route: the deployment's policy");
    assert_eq!(allowed(&r).as_deref(), Some(A));
    let r = c.get(gw.url("/n/nothing")).header("Origin", B).send().await.unwrap();
    assert_eq!(allowed(&r), None);
    let mut limited = None;
    for _ in 0..10 {
        let r = c.get(gw.url("/rl/items/1")).header("Origin", B).send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(allowed(&r).as_deref(), Some(B));
    }
    let r = limited.expect("rate limit never triggered");
    assert_eq!(allowed(&r).as_deref(), Some(B));
    assert_eq!(r.headers()["retry-after"], "1");
    gw.stop().await;
}

/// Log lines written while the guard lives (tokio tests run the gateway on the test's thread).
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn validation_modes_disabled_permissive_and_a_missing_required_body() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _log_guard = tracing::subscriber::set_default(subscriber);
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    let checks = |mode: &str| {
        json!({
            "headerValidations": {"headers": [{"name": "X-Api-Key", "required": true}], "validationMode": mode},
            "queryParameterValidations": {"parameters": [{"name": "id", "required": true}], "validationMode": mode},
            "bodyValidation": {"required": true, "content": {"application/json": {"validationType": "NONE"}},
                               "validationMode": mode}})
    };
    let echo = json!({"type": "HTTP_BACKEND", "url": format!("http://{}/echo", upstream.addr)});
    gw.deploy(
        "modes",
        "/m",
        json!({"routes": [
            {"path": "/disabled", "backend": echo, "requestPolicies": checks("DISABLED")},
            {"path": "/permissive", "backend": echo, "requestPolicies": checks("PERMISSIVE")},
            {"path": "/enforcing", "backend": echo, "requestPolicies": checks("ENFORCING")},
            {"path": "/body", "methods": ["POST"], "backend": echo, "requestPolicies": {
                "bodyValidation": {"required": true, "content": {"application/json": {"validationType": "NONE"}}}}}
        ]}),
    )
    .await;
    let c = client();

    // DISABLED: nothing is checked and nothing is logged.
    let r = c.get(gw.url("/m/disabled")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(gw.url("/m/disabled"))
        .header("Content-Type", "text/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["body"], "<a/>");
    assert!(!log.text().contains("request failed validation"), "{}", log.text());

    // PERMISSIVE: forwarded unchanged; each failure is logged (the only observable difference).
    let r = c
        .post(gw.url("/m/permissive?other=1"))
        .header("Content-Type", "text/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["body"], "<a/>");
    assert_eq!(echoed["query"], "other=1");
    assert_eq!(echoed["headers"]["content-type"], "text/xml");
    let logged = log.text();
    for message in [
        "Missing required header x-api-key",
        "Missing required query parameter id",
        "Unsupported Media Type",
    ] {
        assert!(
            logged
                .lines()
                .any(|l| l.contains("PERMISSIVE: forwarded") && l.contains(message)),
            "{message} not logged in:\n{logged}"
        );
    }
    let r = c.get(gw.url("/m/permissive")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(log.text().contains("Missing required request body"), "{}", log.text());

    // ENFORCING (the default): a missing required body is 400 with the body named.
    for path in ["/m/body", "/m/enforcing?id=1"] {
        let r = c.post(gw.url(path)).header("X-Api-Key", "k").send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"code": 400, "message": "Missing required request body"}),
            "{path}"
        );
    }
    let r = c
        .post(gw.url("/m/body"))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    gw.stop().await;
}

#[tokio::test]
async fn body_validation_sees_an_http2_body_streamed_without_content_length() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    let echo = json!({"type": "HTTP_BACKEND", "url": format!("http://{}/echo", upstream.addr)});
    gw.deploy(
        "h2",
        "/h2",
        json!({"routes": [
            {"path": "/typed", "methods": ["POST"], "backend": echo, "requestPolicies": {
                "bodyValidation": {"content": {"application/json": {"validationType": "NONE"}},
                                   "validationMode": "ENFORCING"}}},
            {"path": "/required", "methods": ["POST"], "backend": echo, "requestPolicies": {
                "bodyValidation": {"required": true, "content": {"application/json": {"validationType": "NONE"}}}}}
        ]}),
    )
    .await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let streamed = |parts: &'static [&'static str]| {
        reqwest::Body::wrap_stream(futures_util::stream::iter(
            parts.iter().map(|p| Ok::<_, std::io::Error>(p.as_bytes().to_vec())),
        ))
    };

    let r = h2
        .post(gw.url("/h2/typed"))
        .header("Content-Type", "text/xml")
        .body(streamed(&["<a>", "</a>"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 415, "a streamed HTTP/2 body is a body");
    let r = h2
        .post(gw.url("/h2/required"))
        .header("Content-Type", "application/json")
        .body(streamed(&["{", "}"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a streamed HTTP/2 body satisfies `required`");
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["body"], "{}");
    // Without a body (END_STREAM on the headers) it is still missing; a typed bodiless request passes.
    let r = h2.post(gw.url("/h2/required")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = h2.post(gw.url("/h2/typed")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    gw.stop().await;
}
