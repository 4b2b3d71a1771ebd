//! Fn-compatible functions: func.yaml, runtime preparation, hot-instance pools speaking the FDK
//! contract over unix sockets, and the Fn API v2.
//!
//! CONTRACT with the binary (`fngate up`); extend, do not break:
//! `Runtime::start(store, config)`, `api_router()` for the functions listener,
//! `admin_router()` merged into the admin listener, `shutdown()`, and `FunctionInvoker`.
//! The binary serves `api_router()` with `fngate_http::serve_router` (the listener's connection
//! cap and timeouts; each connection polled inline, see that module).
//!
//! Extensions used by the CLI: [`funcfile`] (func.yaml parsing, version bump), [`lang`]
//! (`fngate init` templates), [`deploy::DeployRequest`]/[`deploy::DeployEvent`] (the NDJSON
//! deploy stream). HTTP triggers wrap calls with `fngate_invoke::http_front` (`HttpFront::FnTrigger`),
//! the one home of the Fn-Http-* contract, which the gateway shares.
//!
//! Tuning (environment of `fngate up`): `FNGATE_HOT_START_TIMEOUT_MS` (socket readiness,
//! default 5000 as Fn), `FNGATE_QUEUE_TIMEOUT_MS` (how long a call waits for an instance before
//! 503, default 10000), `FNGATE_ENVS_DIR` (prepared environments, default `<data>/functions/envs`;
//! several servers may share one), `FNGATE_SANDBOX_DISABLE` (sandbox mechanisms to leave off, for
//! testing the fallbacks; see [`sandbox`]).
//!
//! The binary must call [`sandbox::main_if_launcher`] first thing in `main`: the sandbox starts
//! fngate's own executable as the launcher of every function process.

pub mod api;
pub mod bundle;
mod config_rules;
pub mod deploy;
mod fdk_stream;
pub mod funcfile;
pub mod instance;
pub mod lang;
pub mod logs;
pub mod model;
pub mod pool;
mod pool_metrics;
pub mod prepare;
pub mod registry;
pub mod sandbox;

/// What the fuzz targets (`fuzz/`) drive directly: the FDK socket the runtime reads answers from.
/// Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::fdk_stream::FdkStream;
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use fngate_invoke::{FunctionInvoker, FunctionRef, InvokeError, InvokeFuture, InvokeRequest, InvokeResponse};
use fngate_store::Store;
use http::StatusCode;
use tokio::sync::Semaphore;

use crate::logs::LogSink;
use crate::registry::{PoolSettings, Snapshot};

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Root for prepared environments, code snapshots and instance socket directories.
    pub data_dir: PathBuf,
    pub max_instances_per_fn: usize,
    pub max_instances_total: usize,
    /// Caps on an uploaded bundle (`fngate up --max-bundle-mib`, `--max-bundle-entries`).
    pub bundle_limits: bundle::Limits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            data_dir: PathBuf::from("fngate-data"),
            max_instances_per_fn: 8,
            max_instances_total: 64,
            bundle_limits: bundle::Limits::default(),
        }
    }
}

/// Functions whose new version is being prepared (bundle unpacked, environment being built):
/// (app, fn) → version. Shown by the status endpoint as `state: preparing`.
#[derive(Default)]
pub(crate) struct Preparing(std::sync::Mutex<std::collections::BTreeMap<(String, String), String>>);

/// Clears its entry of [`Preparing`] when the deploy ends, however it ends.
pub(crate) struct PreparingGuard<'a> {
    preparing: &'a Preparing,
    key: (String, String),
}

impl Drop for PreparingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.preparing.0.lock() {
            map.remove(&self.key);
        }
    }
}

pub struct Runtime {
    store: Store,
    config: RuntimeConfig,
    settings: PoolSettings,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises control-plane writes with the snapshot rebuild that follows them.
    write_lock: tokio::sync::Mutex<()>,
    logs: Arc<LogSink>,
    code_dir: PathBuf,
    envs_dir: PathBuf,
    tasks: tokio_util::task::TaskTracker,
    stopping: tokio_util::sync::CancellationToken,
    published_pools: pool_metrics::PublishedPools,
    preparing: Preparing,
}

fn env_millis(name: &str, default: u64) -> Duration {
    let millis = std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    Duration::from_millis(millis)
}

impl Runtime {
    pub async fn start(store: Store, config: RuntimeConfig) -> anyhow::Result<Arc<Runtime>> {
        let root = config.data_dir.join("functions");
        let run_dir = root.join("run");
        // Socket directories of instances from a previous server that was killed.
        instance::clean_run_dir(&run_dir);
        std::fs::create_dir_all(&run_dir)?;
        let logs = Arc::new(LogSink::new(root.join("logs")));
        let envs_dir = std::env::var_os("FNGATE_ENVS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("envs"));
        let sandbox = Arc::new(sandbox::Sandbox::start(&root, &run_dir).await);
        let runtime = Arc::new_cyclic(|weak: &std::sync::Weak<Runtime>| {
            let weak = weak.clone();
            let evict: registry::Evictor =
                Arc::new(move |except: &str| weak.upgrade().is_some_and(|runtime| runtime.evict_idle_except(except)));
            Runtime::new(store, config, root, sandbox, envs_dir, logs, evict)
        });
        runtime.restore_missing_code().await;
        runtime.reload().await?;
        runtime.clean_code_snapshots();
        let reaper = Arc::downgrade(&runtime);
        let stopping = runtime.stopping.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = stopping.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Some(runtime) = reaper.upgrade() else { break };
                for entry in runtime.snapshot.load().fns.values() {
                    if let Some(pool) = &entry.pool {
                        pool.reap_idle();
                    }
                }
                // Provisioned instances that died (or could not start) are started again.
                runtime.warm_up_pools();
            }
        });
        Ok(runtime)
    }

    fn new(
        store: Store,
        config: RuntimeConfig,
        root: PathBuf,
        sandbox: Arc<sandbox::Sandbox>,
        envs_dir: PathBuf,
        logs: Arc<LogSink>,
        evict: registry::Evictor,
    ) -> Runtime {
        let settings = PoolSettings {
            max_per_fn: config.max_instances_per_fn.max(1),
            global: Arc::new(Semaphore::new(config.max_instances_total.max(1))),
            logs: logs.clone(),
            queue_timeout: env_millis("FNGATE_QUEUE_TIMEOUT_MS", 10_000),
            init_timeout: env_millis("FNGATE_HOT_START_TIMEOUT_MS", 5_000),
            evict,
            sandbox,
        };
        Runtime {
            store,
            config,
            settings,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            write_lock: tokio::sync::Mutex::new(()),
            logs,
            code_dir: root.join("code"),
            envs_dir,
            tasks: tokio_util::task::TaskTracker::new(),
            stopping: tokio_util::sync::CancellationToken::new(),
            published_pools: pool_metrics::PublishedPools::default(),
            preparing: Preparing::default(),
        }
    }

    /// Caps on an uploaded bundle.
    pub fn bundle_limits(&self) -> bundle::Limits {
        self.config.bundle_limits
    }

    /// Marks app/fn as preparing `version` until the guard drops.
    pub(crate) fn preparing(&self, app: &str, function: &str, version: &str) -> PreparingGuard<'_> {
        let key = (app.to_string(), function.to_string());
        if let Ok(mut map) = self.preparing.0.lock() {
            map.insert(key.clone(), version.to_string());
        }
        PreparingGuard {
            preparing: &self.preparing,
            key,
        }
    }

    /// (app, fn, version) of every function being prepared now.
    pub fn preparing_now(&self) -> Vec<(String, String, String)> {
        self.preparing
            .0
            .lock()
            .map(|map| {
                map.iter()
                    .map(|((a, f), v)| (a.clone(), f.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops one idle instance of a function other than `except`; false when there is none.
    fn evict_idle_except(&self, except: &str) -> bool {
        self.snapshot
            .load()
            .fns
            .values()
            .filter(|entry| entry.f.id != except)
            .filter_map(|entry| entry.pool.as_ref())
            .any(|pool| pool.evict_one())
    }

    /// Fn API v2, `/invoke/{fnID}` and `/t/{app}/{path}`: served on the functions listener.
    pub fn api_router(self: &Arc<Self>) -> axum::Router {
        api::api_router(self.clone())
    }

    /// Routes the CLI needs (deploy, logs, …), merged into the admin listener.
    pub fn admin_router(self: &Arc<Self>) -> axum::Router {
        api::admin_router(self.clone())
    }

    /// Stops every function process (each with its whole tree), waiting for in-flight calls first.
    pub async fn shutdown(&self) {
        self.stopping.cancel();
        self.tasks.close();
        // Detached calls get a bounded grace period.
        let _ = tokio::time::timeout(Duration::from_secs(30), self.tasks.wait()).await;
        let snapshot = self.snapshot.swap(Arc::new(Snapshot::default()));
        for entry in snapshot.fns.values() {
            if let Some(pool) = &entry.pool {
                pool.shutdown().await;
            }
        }
        self.settings.sandbox.shutdown();
    }

    /// The function sandbox this server probed at start.
    pub fn sandbox(&self) -> &Arc<sandbox::Sandbox> {
        &self.settings.sandbox
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    pub fn logs(&self) -> &Arc<LogSink> {
        &self.logs
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// Rebuilds the in-memory view from the store (after every write).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = fngate_store::functions::load_all(self.store.pool()).await?;
        let old = self.snapshot.load_full();
        let (next, unused) = registry::build(&rows, &old, &self.settings);
        self.settings.sandbox.retain_uids(&|fn_id| next.fns.contains_key(fn_id));
        self.snapshot.store(Arc::new(next));
        for pool in unused {
            pool.retire();
        }
        self.warm_up_pools();
        Ok(())
    }

    /// Applies what another node changed (several nodes on one database): unpacks and prepares
    /// the code of new deployments from their stored bundles first, so a function is served
    /// only once it can run, then rebuilds the in-memory view.
    pub async fn follow_store(self: &Arc<Self>) -> anyhow::Result<()> {
        self.restore_missing_code().await;
        let _writes = self.lock_writes().await;
        self.reload().await
    }

    /// Starts the provisioned instances of every pool short of them, in the background.
    fn warm_up_pools(&self) {
        if self.stopping.is_cancelled() {
            return;
        }
        for entry in self.snapshot.load().fns.values() {
            if let Some(pool) = entry.pool.as_ref().filter(|p| p.needs_warm_up()) {
                let pool = pool.clone();
                tokio::spawn(async move { pool.warm_up().await });
            }
        }
    }

    /// Holds the control-plane write lock (writes + reload are serialised).
    pub async fn lock_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().await
    }

    /// Unpacks, from the stored bundle, the code of every deployment whose code directory is
    /// missing (a wiped data dir, or a node that never saw the deploy), and rebuilds a missing
    /// environment, before anything is served; status shows those functions `preparing`.
    async fn restore_missing_code(self: &Arc<Self>) {
        let Ok(rows) = fngate_store::functions::load_all(self.store.pool()).await else {
            return;
        };
        let apps: std::collections::HashMap<String, String> =
            rows.apps.iter().map(|a| (a.id.clone(), a.name.clone())).collect();
        for row in &rows.fns {
            let Some(deployment) = row
                .deployment
                .as_deref()
                .and_then(|d| serde_json::from_str::<registry::Deployment>(d).ok())
            else {
                continue;
            };
            let Some(digest) = deployment.bundle.clone() else {
                continue;
            };
            let code_missing = !deployment.code_dir.is_dir();
            let env_missing = !deployment.env_dir.join(prepare::READY_MARKER).is_file();
            if !code_missing && !env_missing {
                continue;
            }
            let app = apps.get(&row.app_id).cloned().unwrap_or_default();
            let _preparing = self.preparing(&app, &row.name, &deployment.version);
            if let Err(err) = self.restore(&deployment, &digest, code_missing).await {
                tracing::error!(app = %app, function = %row.name, error = %err, "cannot restore the function's code from its stored bundle");
            }
        }
    }

    async fn restore(&self, d: &registry::Deployment, digest: &str, code_missing: bool) -> anyhow::Result<()> {
        if code_missing {
            let bytes = self
                .store
                .get_bundle(digest)
                .await?
                .ok_or_else(|| anyhow::anyhow!("bundle {digest} is not in the store"))?;
            let (code_dir, limits) = (d.code_dir.clone(), self.bundle_limits());
            tokio::task::spawn_blocking(move || {
                let staging = code_dir.with_extension("restoring");
                let _ = std::fs::remove_dir_all(&staging);
                if let Some(parent) = code_dir.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                bundle::unpack(&bytes, &staging, &limits).map_err(|e| anyhow::anyhow!("{e}"))?;
                std::fs::rename(&staging, &code_dir)?;
                Ok::<_, anyhow::Error>(())
            })
            .await??;
            tracing::info!(bundle = %digest, dir = %d.code_dir.display(), "restored function code from the store");
        }
        if !d.env_dir.join(prepare::READY_MARKER).is_file() {
            let (sandbox, lang, runtime, code, envs) = (
                self.settings.sandbox.clone(),
                d.lang,
                d.runtime.clone(),
                d.code_dir.clone(),
                self.envs_dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let interpreter = prepare::resolve_interpreter(lang, &lang.interpreter(&runtime))?;
                prepare::prepare_env(&sandbox, lang, &interpreter, &code, &envs, &|_| {})
            })
            .await??;
        }
        Ok(())
    }

    /// Removes code snapshots no stored function refers to.
    fn clean_code_snapshots(&self) {
        let snapshot = self.snapshot.load();
        let used: Vec<&PathBuf> = snapshot
            .fns
            .values()
            .filter_map(|e| e.deployment.as_ref().map(|d| &d.code_dir))
            .collect();
        if let Ok(entries) = std::fs::read_dir(&self.code_dir) {
            for entry in entries.flatten() {
                if !used.contains(&&entry.path()) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }

    /// Runs a call with a given call id (detached calls learn their id before they run).
    pub async fn invoke_with_id(
        &self,
        fn_id: &str,
        call_id: String,
        request: InvokeRequest,
    ) -> Result<InvokeResponse, InvokeError> {
        if self.stopping.is_cancelled() {
            return Err(InvokeError::TooBusy {
                retry_after: pool::RETRY_AFTER,
            });
        }
        let entry = self
            .snapshot
            .load()
            .fns
            .get(fn_id)
            .cloned()
            .ok_or(InvokeError::NotFound)?;
        let Some(pool) = entry.pool.clone() else {
            return Err(InvokeError::Other(format!(
                "function {}/{} has no deployed code; deploy it with `fngate deploy --app {}`",
                entry.app.name, entry.f.name, entry.app.name
            )));
        };
        // Every path (the Fn API, HTTP triggers, the gateway, authorizers) ends here.
        let mut headers = request.headers;
        fngate_invoke::strip_internal_headers(&mut headers);
        let output = pool.call(&call_id, headers, request.body).await?;
        Ok(InvokeResponse {
            status: StatusCode::OK,
            headers: output.headers,
            body: output.body,
            call_id,
        })
    }

    /// Runs a call in the background (`Fn-Invoke-Type: detached`); shutdown waits for it.
    pub fn spawn_detached(self: &Arc<Self>, fn_id: String, call_id: String, request: InvokeRequest) {
        let runtime = self.clone();
        self.tasks.spawn(async move {
            if let Err(err) = runtime.invoke_with_id(&fn_id, call_id.clone(), request).await {
                runtime
                    .logs
                    .write(&fn_id, &call_id, "fngate", &format!("detached call failed: {err}"));
            }
        });
    }

    pub(crate) fn code_dir(&self) -> &PathBuf {
        &self.code_dir
    }

    pub(crate) fn envs_dir(&self) -> &PathBuf {
        &self.envs_dir
    }
}

impl FunctionInvoker for Runtime {
    fn resolve(&self, reference: &str) -> Option<FunctionRef> {
        let snapshot = self.snapshot.load();
        let entry = match snapshot.fns.get(reference) {
            Some(entry) => entry,
            // The OCI API's name for the same function (`ocid1.fnfunc.fngate..<ulid lowercased>`,
            // fngate-oci), as OCI users write it in a deployment's `functionId`.
            None if reference.starts_with("ocid1.fnfunc.") => {
                let (_, unique) = reference.rsplit_once('.')?;
                snapshot.fns.get(&unique.to_ascii_uppercase())?
            }
            None => {
                let (app, name) = reference.split_once('/')?;
                let id = snapshot.fn_ids_by_name.get(&(app.to_string(), name.to_string()))?;
                snapshot.fns.get(id)?
            }
        };
        Some(FunctionRef {
            fn_id: entry.f.id.clone(),
            app_name: entry.app.name.clone(),
            fn_name: entry.f.name.clone(),
        })
    }

    fn current_id(&self, app: &str, name: &str) -> Option<String> {
        // The snapshot's name index: no store read on the request path.
        self.snapshot
            .load()
            .fn_ids_by_name
            .get(&(app.to_string(), name.to_string()))
            .cloned()
    }

    fn invoke<'a>(&'a self, fn_id: &'a str, request: InvokeRequest) -> InvokeFuture<'a> {
        Box::pin(self.invoke_with_id(fn_id, model::new_id(), request))
    }
}
