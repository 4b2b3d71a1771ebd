//! Fn-compatible functions: func.yaml, runtime preparation, hot-instance pools speaking the FDK
//! contract over unix sockets, and the Fn API v2.
//!
//! CONTRACT with the binary (`fngate up`); extend, do not break:
//! `Runtime::start(store, config)`, `api_router()` for the functions listener,
//! `admin_router()` merged into the admin listener, `shutdown()`, and `FunctionInvoker`.

use std::path::PathBuf;
use std::sync::Arc;

use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeFuture, InvokeRequest};
use fngate_store::Store;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Root for prepared environments, code snapshots and instance socket directories.
    pub data_dir: PathBuf,
    pub max_instances_per_fn: usize,
    pub max_instances_total: usize,
}

pub struct Runtime {
    _store: Store,
    _config: RuntimeConfig,
}

impl Runtime {
    pub async fn start(store: Store, config: RuntimeConfig) -> anyhow::Result<Arc<Runtime>> {
        Ok(Arc::new(Runtime { _store: store, _config: config }))
    }

    /// Fn API v2, `/invoke/{fnID}` and `/t/{app}/{path}`: served on the functions listener.
    pub fn api_router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
    }

    /// Routes the CLI needs (deploy, logs, …), merged into the admin listener.
    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
    }

    /// Stops every function process (process groups), waiting for in-flight calls first.
    pub async fn shutdown(&self) {}
}

impl FunctionInvoker for Runtime {
    fn resolve(&self, _reference: &str) -> Option<FunctionRef> {
        None
    }

    fn invoke<'a>(&'a self, _fn_id: &'a str, _request: InvokeRequest) -> InvokeFuture<'a> {
        Box::pin(async { Err(InvokeError::NotFound) })
    }
}
