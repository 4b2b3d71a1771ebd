//! Test support: a gateway on 127.0.0.1:0 over a real SQLite store, an HTTP echo upstream, and
//! a `FunctionInvoker` that answers like an FDK behind Fn's HTTP trigger (the trait boundary).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use bytes::Bytes;
use fngate_gateway::Gateway;
use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeFuture, InvokeRequest, InvokeResponse};
use http::{HeaderMap, StatusCode};
use tokio_util::sync::CancellationToken;

/// Records each call; `echo` answers 201 with `Fn-Http-H-X-Fn-Saw-Method` and echoes the body;
/// `fail` raises; `slow` times out.
#[derive(Default)]
pub struct TestInvoker {
    pub calls: Mutex<Vec<(String, InvokeRequest)>>,
}

impl FunctionInvoker for TestInvoker {
    fn resolve(&self, reference: &str) -> Option<FunctionRef> {
        let name = reference.trim_start_matches("app/").trim_start_matches("fnid-");
        ["echo", "fail", "slow"].contains(&name).then(|| FunctionRef {
            fn_id: format!("fnid-{name}"),
            app_name: "app".into(),
            fn_name: name.into(),
        })
    }

    fn invoke<'a>(&'a self, fn_id: &'a str, request: InvokeRequest) -> InvokeFuture<'a> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((fn_id.to_string(), request.clone()));
            match fn_id {
                "fnid-fail" => Err(InvokeError::FunctionFailed),
                "fnid-slow" => Err(InvokeError::TimedOut),
                _ => {
                    let mut headers = HeaderMap::new();
                    headers.insert("fn-http-status", "201".parse().unwrap());
                    let method = request.headers.get("fn-http-method").cloned().unwrap();
                    headers.insert("fn-http-h-x-fn-saw-method", method);
                    headers.insert("fn-http-h-content-type", "application/octet-stream".parse().unwrap());
                    headers.insert("x-not-forwarded", "1".parse().unwrap());
                    Ok(InvokeResponse {
                        status: StatusCode::OK,
                        headers,
                        body: request.body,
                        call_id: "01TESTCALL".into(),
                    })
                }
            }
        })
    }
}

pub struct TestGateway {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    pub invoker: Arc<TestInvoker>,
    pub shutdown: CancellationToken,
    pub served: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        Self::start_with(None).await
    }

    pub async fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tls).await
    }

    pub async fn start_in(dir: tempfile::TempDir, tls: Option<Arc<rustls::ServerConfig>>) -> TestGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, dir, tls).await
    }

    /// A gateway on `listener` (e.g. one bound to `[::1]`).
    pub async fn serve_on(
        listener: tokio::net::TcpListener,
        dir: tempfile::TempDir,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> TestGateway {
        Self::serve_with_auth(listener, dir, tls, fngate_auth::AuthService::new(None)).await
    }

    /// A gateway whose authentication uses `auth` (e.g. with a short JWKS refetch interval).
    pub async fn start_with_auth(auth: Arc<fngate_auth::AuthService>) -> TestGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_with_auth(listener, tempfile::tempdir().unwrap(), None, auth).await
    }

    async fn serve_with_auth(
        listener: tokio::net::TcpListener,
        dir: tempfile::TempDir,
        tls: Option<Arc<rustls::ServerConfig>>,
        auth: Arc<fngate_auth::AuthService>,
    ) -> TestGateway {
        let store = fngate_store::Store::open(dir.path()).await.unwrap();
        let invoker = Arc::new(TestInvoker::default());
        let gateway = Gateway::start(store, invoker.clone(), auth).await.unwrap();
        gateway.set_drain_timeout(Duration::from_secs(5));
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let limits = fngate_http::ConnectionLimits::default();
        let served = tokio::spawn(gateway.clone().serve(listener, tls, limits, shutdown.clone()));
        TestGateway {
            addr,
            gateway,
            invoker,
            shutdown,
            served,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn deploy(&self, name: &str, prefix: &str, spec: serde_json::Value) {
        let text = spec.to_string();
        if let Err(err) = self
            .gateway
            .deploy(name, prefix, fngate_spec::SpecFormat::Json, &text)
            .await
        {
            panic!("deploy {name} failed: {err}: {err:?}");
        }
    }

    pub async fn stop(self) -> tempfile::TempDir {
        self.shutdown.cancel();
        self.served.await.unwrap().unwrap();
        self.dir
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An upstream that answers every request with a JSON echo of what it received.
pub struct Upstream {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Self::serve_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// The echo upstream on `listener` (e.g. one bound to `[::1]`).
    pub fn serve_on(listener: tokio::net::TcpListener) -> Upstream {
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::any(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .fallback(echo);
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
                .unwrap();
        });
        Upstream { addr, shutdown }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn echo(request: Request) -> axum::Json<serde_json::Value> {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        headers.insert(name.to_string(), value.to_str().unwrap_or("").into());
    }
    axum::Json(serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}
