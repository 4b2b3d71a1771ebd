//! A JWKS server on `127.0.0.1:0` whose key set, availability and request counts the test
//! controls, with an OIDC discovery document pointing at it (Entra's paths).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::keys::TestKey;
use crate::tokens::{TENANT, v2_issuer};

pub struct JwksServer {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct ServerState {
    jwks: Mutex<Value>,
    up: AtomicBool,
    jwks_hits: AtomicU64,
    discovery_hits: AtomicU64,
    addr: OnceLock<SocketAddr>,
}

impl ServerState {
    fn jwks(&self) -> Value {
        self.jwks.lock().map(|doc| doc.clone()).unwrap_or(Value::Null)
    }

    fn set_jwks(&self, doc: Value) {
        if let Ok(mut slot) = self.jwks.lock() {
            *slot = doc;
        }
    }
}

async fn serve_jwks(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    axum::Json(state.jwks()).into_response()
}

async fn serve_discovery(State(state): State<Arc<ServerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let Some(addr) = state.addr.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    axum::Json(json!({
        "issuer": v2_issuer(),
        "jwks_uri": format!("http://{addr}/{TENANT}/discovery/v2.0/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

impl JwksServer {
    /// Serves `keys` at [`jwks_uri`](Self::jwks_uri) until dropped.
    pub async fn start(keys: &[&TestKey]) -> JwksServer {
        let state = Arc::new(ServerState {
            jwks: Mutex::new(Value::Null),
            up: AtomicBool::new(true),
            jwks_hits: AtomicU64::new(0),
            discovery_hits: AtomicU64::new(0),
            addr: OnceLock::new(),
        });
        let app = axum::Router::new()
            .route(&format!("/{TENANT}/discovery/v2.0/keys"), get(serve_jwks))
            .route(
                &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
                get(serve_discovery),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let _ = state.addr.set(addr);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(err) = served {
                eprintln!("JWKS test server failed: {err}");
            }
        });
        let server = JwksServer {
            addr,
            state,
            shutdown: Some(tx),
        };
        server.publish(keys);
        server
    }

    pub fn jwks_uri(&self) -> String {
        format!("http://{}/{TENANT}/discovery/v2.0/keys", self.addr)
    }

    pub fn discovery_uri(&self) -> String {
        format!("http://{}/{TENANT}/v2.0/.well-known/openid-configuration", self.addr)
    }

    /// Replaces the served key set with `keys`' public JWKs.
    pub fn publish(&self, keys: &[&TestKey]) {
        let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
        self.state.set_jwks(doc);
    }

    /// Serves `doc` verbatim as the key set (hostile or malformed documents).
    pub fn publish_raw(&self, doc: Value) {
        self.state.set_jwks(doc);
    }

    /// `false`: both documents answer 503 until set up again.
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    pub fn jwks_hits(&self) -> u64 {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> u64 {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
