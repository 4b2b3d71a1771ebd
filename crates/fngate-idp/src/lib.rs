//! A dev identity provider that behaves like Microsoft Entra ID (client credentials, JWKS,
//! discovery, Entra-shaped errors).
//!
//! CONTRACT with the binary; extend, do not break: `Idp::open(store)` (creates the default
//! tenant and keys on first start), `serve(listener, shutdown)` (plain HTTP and HTTPS on one
//! port), `admin_router()` merged into the admin listener.

use std::sync::Arc;

use fngate_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Idp {
    _store: Store,
}

impl Idp {
    pub async fn open(store: Store) -> anyhow::Result<Arc<Idp>> {
        Ok(Arc::new(Idp { _store: store }))
    }

    pub async fn serve(self: Arc<Self>, _listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
        shutdown.cancelled().await;
        Ok(())
    }

    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
    }
}
