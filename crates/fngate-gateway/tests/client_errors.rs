//! Client faults are the client's (#12): a malformed chunked body from the client is a 400 and a
//! client error in the logs, not a 502 "backend failed"; failed authentications are counted by
//! deployment and route and logged at most about once a second per deployment, however many
//! come. Its own test binary: it installs the process's metrics recorder and captures the log.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{TestGateway, Upstream, client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.split(['{', ' ']).next() == Some(name) && labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Sends raw bytes and returns the status of the response.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text:?}"))
}

// A current-thread runtime: the gateway's tasks run on this thread, under the captured log.
#[tokio::test(flavor = "current_thread")]
async fn client_framing_errors_are_400_and_auth_failures_are_counted_and_rate_limited() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install the metrics recorder");
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    gw.deploy(
        "edge",
        "/e",
        json!({
            "requestPolicies": {"authentication": {
                "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
                "validationPolicy": {"type": "STATIC_KEYS", "keys": [{"format": "PEM", "kid": "k1", "key": pair.public_key_pem()}],
                    "additionalValidationPolicy": {"issuers": ["https://issuer.example.com/"]}}}},
            "routes": [
                {"path": "/upload", "methods": ["POST"], "requestPolicies": {"authorization": {"type": "AUTHENTICATION_ONLY"}},
                 "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/upload", upstream.addr)}}
            ]
        }),
    )
    .await;
    gw.deploy(
        "open",
        "/o",
        json!({"routes": [{"path": "/upload", "methods": ["POST"],
            "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/upload", upstream.addr)}}]}),
    )
    .await;

    // A chunk size that is not hex, from the client: its fault, 400; the backend is fine.
    let status = raw(
        gw.addr,
        b"POST /o/upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "a malformed chunk size from the client");
    // The same route with a well-framed body works.
    let good = raw(
        gw.addr,
        b"POST /o/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(good, 200, "a well-framed body passes");

    // 200 bad tokens in a burst: each counted, the log holds a line or two, not 200.
    let http = client();
    for i in 0..200 {
        let response = http
            .post(gw.url("/e/upload"))
            .bearer_auth(format!("not-a-token-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let text = recorder.render();
    assert_eq!(
        value(
            &text,
            "fngate_gateway_auth_failures_total",
            &["deployment=\"edge\"", "route=\"/upload\"", "status=\"401\""]
        ),
        Some(200.0),
        "{text}"
    );
    assert!(
        !text.contains("fngate_gateway_backend_errors_total"),
        "a client error was counted as a backend error:\n{text}"
    );
    let logged = log.text();
    let auth_lines = logged
        .lines()
        .filter(|l| l.contains("fngate::gateway::auth") && l.contains("authentication failed"))
        .count();
    assert!(
        (1..=3).contains(&auth_lines),
        "{auth_lines} gateway lines for 200 failed authentications:\n{logged}"
    );
    // Nor does the authenticator write a line of its own per failure above DEBUG.
    let authenticator_lines = logged
        .lines()
        .filter(|l| l.contains("tokenAuthentication.authenticationFailed") && !l.contains("DEBUG"))
        .count();
    assert!(
        (1..=3).contains(&authenticator_lines),
        "{authenticator_lines} authenticator lines above DEBUG for 200 failed authentications:\n{logged}"
    );
    assert!(
        !logged.contains("HTTP backend failed"),
        "a client error was logged as a backend failure:\n{logged}"
    );
    assert!(
        logged
            .lines()
            .any(|l| l.contains("fngate::gateway::client") && l.contains("malformed or truncated request body")),
        "the client error is logged as one:\n{logged}"
    );
    gw.stop().await;
}
