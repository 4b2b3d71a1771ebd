//! The in-memory view the data plane reads: apps, functions, triggers and their pools, swapped
//! atomically after every control-plane write. Pools are reused when nothing that shapes an
//! instance changed (like Fn's slot-queue key) and retired otherwise.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::instance::InstanceSpec;
use crate::lang::Lang;
use crate::logs::LogSink;
use crate::model::{App, Fn, config_pairs};
use crate::pool::Pool;
use crate::sandbox::{Layout, Sandbox};

/// How a deployed function runs (stored as JSON in `fn_fns.deployment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub lang: Lang,
    pub runtime: String,
    pub version: String,
    pub code_dir: PathBuf,
    pub env_dir: PathBuf,
    pub env_key: String,
    /// The command: the container's entrypoint/cmd as written (`Layout::Fn`), or mapped onto
    /// code_dir and env_dir (`Layout::Host`).
    pub command: Vec<String>,
    /// Where code and environment appear to the function (deployments from before the sandbox
    /// have none recorded: host paths).
    #[serde(default)]
    pub layout: Layout,
    /// Interpreter installs outside `/usr` the function must see.
    #[serde(default)]
    pub runtime_dirs: Vec<PathBuf>,
    /// Instances kept warm (`deploy.oci.provisioned_concurrency.count` in func.yaml; 0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub provisioned: usize,
    /// `sha256:<hex>` of the stored bundle the code came from (deployments from before bundles
    /// have none: their code was copied from the server's disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub struct FnEntry {
    pub app: App,
    pub f: Fn,
    pub deployment: Option<Deployment>,
    pub pool: Option<Arc<Pool>>,
    pool_key: String,
}

#[derive(Default)]
pub struct Snapshot {
    pub apps: HashMap<String, App>,
    pub app_ids_by_name: HashMap<String, String>,
    pub fns: HashMap<String, Arc<FnEntry>>,
    pub fn_ids_by_name: HashMap<(String, String), String>,
    /// (app name, trigger source) → fn id.
    pub triggers: HashMap<(String, String), String>,
}

/// Limits and directories every pool shares.
pub struct PoolSettings {
    pub max_per_fn: usize,
    pub global: Arc<Semaphore>,
    pub logs: Arc<LogSink>,
    pub queue_timeout: Duration,
    pub init_timeout: Duration,
    /// Stops one idle instance of any function but the given one (to free global capacity).
    pub evict: Evictor,
    pub sandbox: Arc<Sandbox>,
}

pub type Evictor = Arc<dyn std::ops::Fn(&str) -> bool + Send + Sync>;

/// Builds a snapshot from stored rows, reusing pools from `old` whose key did not change;
/// returns the pools that are no longer used (to retire).
pub fn build(
    rows: &fngate_store::functions::Snapshot,
    old: &Snapshot,
    settings: &PoolSettings,
) -> (Snapshot, Vec<Arc<Pool>>) {
    let mut next = Snapshot::default();
    for row in &rows.apps {
        next.app_ids_by_name.insert(row.name.clone(), row.id.clone());
        next.apps.insert(row.id.clone(), App::from(row));
    }
    for row in &rows.fns {
        let Some(app) = next.apps.get(&row.app_id).cloned() else {
            continue;
        };
        let f = Fn::from(row);
        let deployment: Option<Deployment> = row.deployment.as_deref().and_then(|d| serde_json::from_str(d).ok());
        let spec = deployment.as_ref().map(|d| instance_spec(&app, &f, d, settings));
        let provisioned = deployment.as_ref().map(|d| d.provisioned).unwrap_or(0);
        let pool_key = spec
            .as_ref()
            .map(|s| format!("{s:?} provisioned={provisioned}"))
            .unwrap_or_default();
        let pool = match (spec, old.fns.get(&row.id)) {
            (Some(_), Some(prev)) if prev.pool_key == pool_key && prev.pool.is_some() => prev.pool.clone(),
            (Some(spec), _) => Some(Arc::new(
                Pool::new(
                    spec,
                    settings.max_per_fn,
                    settings.global.clone(),
                    settings.logs.clone(),
                    settings.queue_timeout,
                    settings.evict.clone(),
                    settings.sandbox.clone(),
                )
                .with_provisioned(provisioned),
            )),
            (None, _) => None,
        };
        next.fn_ids_by_name
            .insert((app.name.clone(), f.name.clone()), f.id.clone());
        next.fns.insert(
            f.id.clone(),
            Arc::new(FnEntry {
                app,
                f,
                deployment,
                pool,
                pool_key,
            }),
        );
    }
    for row in &rows.triggers {
        if row.kind != "http" {
            continue;
        }
        if let Some(app) = next.apps.get(&row.app_id) {
            next.triggers
                .insert((app.name.clone(), row.source.clone()), row.fn_id.clone());
        }
    }
    let unused = old
        .fns
        .values()
        .filter_map(|entry| {
            let pool = entry.pool.as_ref()?;
            let kept = next
                .fns
                .get(&entry.f.id)
                .and_then(|e| e.pool.as_ref())
                .is_some_and(|p| Arc::ptr_eq(p, pool));
            (!kept).then(|| pool.clone())
        })
        .collect();
    (next, unused)
}

/// The instance environment (`fn:api/agent/call.go` `buildConfig`): the language's variables,
/// app config, then fn config, then the platform's variables on top (the sandbox adds `PATH`,
/// `HOME`, `TMPDIR` and `FN_LISTENER`).
fn instance_spec(app: &App, f: &Fn, d: &Deployment, settings: &PoolSettings) -> InstanceSpec {
    let mut env: Vec<(String, String)> = Vec::new();
    for name in ["LANG", "LC_ALL", "TZ"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.into(), value));
        }
    }
    let (code_seen, env_seen) = d.layout.seen_paths(d.lang, &d.code_dir, &d.env_dir);
    match d.lang {
        Lang::Python => {
            env.push(("PYTHONPATH".into(), code_seen.display().to_string()));
            env.push(("VIRTUAL_ENV".into(), env_seen.display().to_string()));
            env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        }
        Lang::Node => env.push(("NODE_PATH".into(), env_seen.join("node_modules").display().to_string())),
    }
    let mut config: HashMap<String, String> = config_pairs(&app.config).into_iter().collect();
    config.extend(config_pairs(&f.config));
    // Config stored before the rules existed may hold names the runtime interprets: never passed.
    config.retain(|key, value| {
        let usable =
            crate::model::check_config_key(key).is_ok() && crate::model::check_config_value(key, value).is_ok();
        if !usable {
            tracing::warn!(fn_id = %f.id, key = %key, "config key not passed to the function: it is not allowed");
        }
        usable
    });
    let mut config: Vec<(String, String)> = config.into_iter().collect();
    config.sort();
    env.retain(|(k, _)| !config.iter().any(|(c, _)| c == k));
    env.extend(config);
    let platform = [
        ("FN_FORMAT", "http-stream".to_string()),
        ("FN_MEMORY", f.memory.to_string()),
        ("FN_TYPE", "sync".to_string()),
        ("FN_FN_ID", f.id.clone()),
        ("FN_APP_ID", app.id.clone()),
        ("FN_APP_NAME", app.name.clone()),
        ("FN_FN_NAME", f.name.clone()),
    ];
    env.retain(|(k, _)| !platform.iter().any(|(p, _)| p == k) && k != "FN_LISTENER");
    env.extend(platform.into_iter().map(|(k, v)| (k.to_string(), v)));
    InstanceSpec {
        fn_id: f.id.clone(),
        fn_name: f.name.clone(),
        app_name: app.name.clone(),
        lang: d.lang,
        layout: d.layout,
        command: d.command.clone(),
        code_dir: d.code_dir.clone(),
        env_dir: d.env_dir.clone(),
        runtime_dirs: runtime_dirs(d),
        env,
        memory_mb: f.memory,
        timeout: Duration::from_secs(f.timeout.max(1) as u64),
        idle_timeout: Duration::from_secs(f.idle_timeout.max(1) as u64),
        init_timeout: settings.init_timeout,
    }
}

/// The interpreter installs a deployment needs to see. Deployments from before the sandbox did
/// not record them: a venv names its interpreter's directory in `pyvenv.cfg` (`home = …/bin`).
fn runtime_dirs(d: &Deployment) -> Vec<PathBuf> {
    if !d.runtime_dirs.is_empty() || d.layout != Layout::Host || d.lang != Lang::Python {
        return d.runtime_dirs.clone();
    }
    let cfg = std::fs::read_to_string(d.env_dir.join("pyvenv.cfg")).unwrap_or_default();
    cfg.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.trim() == "home")
        .filter_map(|(_, home)| {
            std::path::Path::new(home.trim())
                .parent()
                .map(std::path::Path::to_path_buf)
        })
        .filter(|prefix| !prefix.starts_with("/usr") && prefix.is_absolute() && prefix != std::path::Path::new("/"))
        .collect()
}
