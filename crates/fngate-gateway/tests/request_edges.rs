//! Edges of routing and forwarding that users hit: HEAD on a GET-only route, dynamic routing with
//! no matching key and no default, malformed and oversized paths, and headers that must not cross
//! the proxy (hop-by-hop ones from the backend) or must be added (`X-Forwarded-Proto`).

mod common;

use common::{TestGateway, Upstream, client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn error_body(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().contains_key("opc-request-id"),
        "{:?}",
        response.headers()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], status, "{body}");
    body
}

#[tokio::test]
async fn head_on_a_get_only_route_is_405_and_unmatched_dynamic_routing_is_404() {
    let gw = TestGateway::start().await;
    gw.deploy(
        "edges",
        "/v1",
        json!({"routes": [
            {"path": "/get-only", "methods": ["GET"],
             "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "ok"}},
            {"path": "/pick", "methods": ["GET"],
             "backend": {"type": "DYNAMIC_ROUTING_BACKEND",
                         "selectionSource": {"type": "SINGLE", "selector": "request.query[v]"},
                         "routingBackends": [
                             {"key": {"type": "ANY_OF", "values": ["a"], "name": "a"},
                              "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "A"}}]}}
        ]}),
    )
    .await;
    let c = client();
    let r = c.head(gw.url("/v1/get-only")).send().await.unwrap();
    assert_eq!(r.status(), 405, "HEAD is its own method in OCI's list");
    assert_eq!(r.headers()["allow"], "GET");
    assert_eq!(
        c.get(gw.url("/v1/pick?v=a"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "A"
    );
    error_body(c.get(gw.url("/v1/pick?v=b")).send().await.unwrap(), 404).await;
    error_body(c.get(gw.url("/v1/pick")).send().await.unwrap(), 404).await;
    gw.stop().await;
}

#[tokio::test]
async fn odd_and_oversized_paths_get_errors_and_the_gateway_keeps_serving() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "paths",
        "/v1",
        json!({"routes": [{"path": "/items/{id}", "methods": ["GET"],
            "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/items/${{request.path[id]}}", upstream.addr)}}]}),
    )
    .await;
    let c = client();
    // A bad percent-escape and an encoded slash are refused (path normalisation, #12; the full
    // matrix is tests/path_tricks.rs); other escapes pass, hex upper-cased.
    error_body(c.get(gw.url("/v1/items/%zz")).send().await.unwrap(), 400).await;
    error_body(c.get(gw.url("/v1/items/a%2Fb")).send().await.unwrap(), 400).await;
    let r = c.get(gw.url("/v1/items/a%3fb")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["path"], "/items/a%3Fb");
    // Two segments where the route has one; an empty segment: no route.
    error_body(c.get(gw.url("/v1/items/a/b")).send().await.unwrap(), 404).await;
    error_body(c.get(gw.url("/v1/items/")).send().await.unwrap(), 404).await;
    // A 20 KB path is over OCI's head limit.
    let long = format!("/v1/items/{}", "x".repeat(20_000));
    error_body(c.get(gw.url(&long)).send().await.unwrap(), 431).await;
    let r = c.get(gw.url("/v1/items/7")).send().await.unwrap();
    assert_eq!(r.status(), 200, "still serving");
    gw.stop().await;
}

#[tokio::test]
async fn hop_by_hop_headers_from_the_backend_do_not_reach_the_client() {
    // One response, by hand: it names `X-Hop` in `Connection` and sends `Keep-Alive` and
    // `Proxy-Connection`, all for this hop only.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the gateway closed before sending a request");
            request.extend_from_slice(&buf[..n]);
        }
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\
                      Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End-To-End: kept\r\n\r\nok";
        stream.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).to_lowercase()
    });
    let gw = TestGateway::start().await;
    gw.deploy(
        "hops",
        "/v1",
        json!({"routes": [{"path": "/x", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/")}}]}),
    )
    .await;
    let r = client().get(gw.url("/v1/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(r.text().await.unwrap(), "ok");
    assert_eq!(headers["x-end-to-end"], "kept");
    for hop in ["x-hop", "keep-alive", "proxy-connection"] {
        assert!(!headers.contains_key(hop), "{hop} crossed the proxy: {headers:?}");
    }
    let request = server.await.unwrap();
    assert!(request.contains("\r\nx-forwarded-proto: http\r\n"), "{request}");
    gw.stop().await;
}
