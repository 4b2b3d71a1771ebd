//! The API gateway data plane: deployments (path prefix + OCI specification), router, policy
//! chain, backends.
//!
//! CONTRACT with the binary (`fngate up`); extend, do not break:
//! `Gateway::start(store, invoker, auth)` loads stored deployments; `serve(listener, tls,
//! shutdown)` runs the listener until `shutdown` is cancelled and in-flight requests drained;
//! `admin_router()` is merged into the admin listener.

use std::sync::Arc;

use fngate_auth::AuthService;
use fngate_invoke::FunctionInvoker;
use fngate_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Gateway {
    _store: Store,
    _invoker: Arc<dyn FunctionInvoker>,
    _auth: Arc<AuthService>,
}

impl Gateway {
    pub async fn start(
        store: Store,
        invoker: Arc<dyn FunctionInvoker>,
        auth: Arc<AuthService>,
    ) -> anyhow::Result<Arc<Gateway>> {
        Ok(Arc::new(Gateway { _store: store, _invoker: invoker, _auth: auth }))
    }

    pub async fn serve(
        self: Arc<Self>,
        _listener: TcpListener,
        _tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        shutdown.cancelled().await;
        Ok(())
    }

    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
    }
}
