//! HTTPS with ALPN h2, h2c, redeploys under load, restart from the store, graceful drain.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestGateway, Upstream, client};
use serde_json::json;

fn tls_config() -> Arc<rustls::ServerConfig> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    Arc::new(config)
}

fn stock_spec(body: &str) -> serde_json::Value {
    json!({"routes": [{"path": "/hello", "methods": ["GET"],
        "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": body}}]})
}

#[tokio::test]
async fn https_negotiates_h2_by_alpn_and_plain_port_speaks_h2c() {
    let gw = TestGateway::start_with(Some(tls_config())).await;
    gw.deploy("tls", "/v1", stock_spec("secure")).await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = c
        .get(format!("https://localhost:{}/v1/hello", gw.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.text().await.unwrap(), "secure");
    gw.stop().await;

    let gw = TestGateway::start().await;
    gw.deploy("h2c", "/v1", stock_spec("cleartext")).await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = c.get(gw.url("/v1/hello")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.text().await.unwrap(), "cleartext");
    gw.stop().await;
}

#[tokio::test]
async fn redeploying_under_load_loses_no_request() {
    let upstream = Upstream::start().await;
    let gw = Arc::new(TestGateway::start().await);
    let spec = |tag: &str| {
        json!({"routes": [
            {"path": "/hello", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": tag}},
            {"path": "/up", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/", upstream.addr)}}]})
    };
    gw.deploy("live", "/v1", spec("v0")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..8 {
        let (gw, stop, ok) = (gw.clone(), stop.clone(), ok.clone());
        workers.push(tokio::spawn(async move {
            let c = client();
            let path = if i % 2 == 0 { "/v1/hello" } else { "/v1/up" };
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match c.get(gw.url(path)).send().await {
                    Ok(r) if r.status() == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => failures.push(format!("{path}: {}", r.status())),
                    Err(e) => failures.push(format!("{path}: {e}")),
                }
            }
            failures
        }));
    }
    for round in 1..=20 {
        gw.deploy("live", "/v1", spec(&format!("v{round}"))).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let failures = w.await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    assert!(ok.load(Ordering::Relaxed) > 20);
    let r = client().get(gw.url("/v1/hello")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "v20");
}

#[tokio::test]
async fn deployments_survive_a_restart_and_deletes_take_effect() {
    let gw = TestGateway::start().await;
    gw.deploy("keep", "/k", stock_spec("kept")).await;
    gw.deploy("gone", "/g", stock_spec("gone")).await;
    gw.gateway.delete("gone").await.unwrap();
    assert_eq!(client().get(gw.url("/g/hello")).send().await.unwrap().status(), 404);
    let dir = gw.stop().await;

    let gw = TestGateway::start_in(dir, None).await;
    let r = client().get(gw.url("/k/hello")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "kept");
    assert_eq!(client().get(gw.url("/g/hello")).send().await.unwrap().status(), 404);
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let upstream = Upstream::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "slow",
        "/",
        json!({"routes": [{"path": "/slow", "backend": {"type": "HTTP_BACKEND",
            "url": format!("http://{}/slow", upstream.addr), "readTimeoutInSeconds": 20}}]}),
    )
    .await;
    let url = gw.url("/slow");
    let in_flight = tokio::spawn(async move { client().get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.shutdown.cancel();
    // The request started before shutdown still completes with the backend's answer.
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    gw.served.await.unwrap().unwrap();
}

#[tokio::test]
async fn https_backends_verify_certificates_unless_disabled() {
    // Another gateway with a self-signed certificate is the HTTPS upstream (ALPN offers h2).
    let upstream = TestGateway::start_with(Some(tls_config())).await;
    upstream.deploy("u", "/u", stock_spec("over tls")).await;
    let gw = TestGateway::start().await;
    let url = format!("https://localhost:{}/u/hello", upstream.addr.port());
    gw.deploy(
        "front",
        "/",
        json!({"routes": [
            {"path": "/insecure", "backend": {"type": "HTTP_BACKEND", "url": url, "isSslVerifyDisabled": true}},
            {"path": "/strict", "backend": {"type": "HTTP_BACKEND", "url": url}}]}),
    )
    .await;
    let r = client().get(gw.url("/insecure")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "over tls");
    let r = client().get(gw.url("/strict")).send().await.unwrap();
    assert_eq!(r.status(), 502, "an untrusted certificate fails closed");
    gw.stop().await;
    upstream.stop().await;
}

/// An HTTPS server (ALPN h2 and http/1.1) answering each request with its HTTP version.
async fn tls_version_echo() -> std::net::SocketAddr {
    let mut config = (*tls_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Runs until the test's runtime stops.
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                    let version = format!("{:?}", request.version());
                    Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from(version),
                    )))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn https_backends_speak_http2_when_the_backend_offers_it() {
    let upstream = tls_version_echo().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "front",
        "/",
        json!({"routes": [{"path": "/v", "backend": {"type": "HTTP_BACKEND",
            "url": format!("https://localhost:{}/", upstream.port()), "isSslVerifyDisabled": true}}]}),
    )
    .await;
    // The client side stays HTTP/1.1; the upstream hop is HTTP/2.
    let r = client().get(gw.url("/v")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.text().await.unwrap(), "HTTP/2.0");
    gw.stop().await;
}

#[tokio::test]
async fn deleting_a_deployment_lets_its_in_flight_requests_finish() {
    // A backend that answers after 400 ms, so requests are in flight when the delete lands.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        "late but whole"
    });
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let gw = Arc::new(TestGateway::start().await);
    gw.deploy(
        "going",
        "/v1",
        json!({"routes": [{"path": "/slow", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{backend}/")}}]}),
    )
    .await;
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move {
                let r = client().get(gw.url("/v1/slow")).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    gw.gateway.delete("going").await.unwrap();
    let started_after = client().get(gw.url("/v1/slow")).send().await.unwrap();
    assert_eq!(
        started_after.status(),
        404,
        "a request after the delete finds no deployment"
    );
    for request in in_flight {
        assert_eq!(request.await.unwrap(), (200, "late but whole".to_string()));
    }
    served.abort();
}
