//! Server side of `fngate deploy`: receive the function's bundle (a tar.gz upload, size-capped
//! while it streams in), unpack it with the hostile-archive checks of [`crate::bundle`], store the
//! canonical re-pack content-addressed, validate func.yaml, prepare (or reuse) the language
//! environment, then create or update the app, fn and triggers in one transaction. The server
//! never reads the client's disk. Progress streams to the CLI as NDJSON ([`DeployEvent`] per
//! line). Nothing is stored unless every step succeeded; a redeploy retires the old pool so
//! in-flight calls finish on the old instances while new calls start new ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use fngate_store::StoreError;
use fngate_store::functions::{self as db, FnRow, TriggerRow};
use futures_util::StreamExt;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;

use crate::Runtime;
use crate::api::{ApiError, check_trigger, merge_fn, new_app_row, trigger_conflict};
use crate::bundle::{self, BundleError, IgnoreRules};
use crate::lang::{self, Lang};
use crate::model::{self, AppInput, Fn, FnInput, Trigger};
use crate::registry::Deployment;
use crate::sandbox::Layout;

/// The media type of a bundle upload. Not one a browser form can send, so a cross-site page
/// cannot post a deploy (the JSON-only rule's reason, kept).
pub const BUNDLE_CONTENT_TYPE: &str = "application/gzip";

/// `POST /fngate/functions/deploy?app=…&create_app=…&version=…`, body: the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRequest {
    /// App name.
    pub app: String,
    #[serde(default)]
    pub create_app: bool,
    /// The version to record (the CLI bumps it and writes it back on success).
    #[serde(default)]
    pub version: Option<String>,
}

impl DeployRequest {
    /// The request's query string.
    pub fn query(&self) -> String {
        let mut query = url_encode(&[("app", self.app.as_str())]);
        if self.create_app {
            query.push_str("&create_app=true");
        }
        if let Some(version) = &self.version {
            query.push('&');
            query.push_str(&url_encode(&[("version", version.as_str())]));
        }
        query
    }
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// One NDJSON line of the deploy stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployEvent {
    Step(String),
    Warning(String),
    Error(String),
    Done(Box<DeployResult>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployResult {
    pub app_id: String,
    pub app_created: bool,
    #[serde(rename = "fn")]
    pub function: Fn,
    pub triggers: Vec<Trigger>,
    pub env_reused: bool,
    /// `sha256:<hex>` of the stored bundle.
    #[serde(default)]
    pub bundle: Option<String>,
}

pub async fn deploy_handler(
    State(rt): State<Arc<Runtime>>,
    query: Result<Query<DeployRequest>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case(BUNDLE_CONTENT_TYPE) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type must be {BUNDLE_CONTENT_TYPE} (the function's tar.gz bundle, as `fngate deploy` sends it)"
            ),
        )
        .into_response();
    }
    let Ok(Query(query)) = query else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "deploy needs ?app=NAME (and optionally create_app=true, version=X.Y.Z); the body is the function's tar.gz bundle",
        )
        .into_response();
    };
    let limits = rt.bundle_limits();
    let bytes = match read_capped(request.into_body(), limits.max_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return *response,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<DeployEvent>();
    // The deploy runs to completion even if the client goes away (nothing half-way).
    tokio::spawn(async move {
        let result = deploy(&rt, &query, bytes, &tx).await;
        let _ = tx.send(match result {
            Ok(done) => DeployEvent::Done(Box::new(done)),
            Err(message) => DeployEvent::Error(message),
        });
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), rx))
    });
    (
        [(http::header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Deploys a bundle in-process (the demo), with the same steps as the upload; events go to `tx`.
pub async fn deploy_bundle(
    rt: &Arc<Runtime>,
    request: &DeployRequest,
    bundle: Vec<u8>,
    tx: &UnboundedSender<DeployEvent>,
) -> Result<DeployResult, String> {
    if bundle.len() as u64 > rt.bundle_limits().max_bytes {
        return Err(format!(
            "the bundle is larger than the {} this server takes (fngate up --max-bundle-mib)",
            bundle_mib(rt.bundle_limits().max_bytes)
        ));
    }
    deploy(rt, request, bundle, tx).await
}

/// Reads the upload as it streams in, refusing it (413) the moment it passes `max` bytes.
async fn read_capped(body: Body, max: u64) -> Result<Vec<u8>, Box<Response>> {
    let too_large = || {
        Box::new(
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the bundle is larger than the {} this server takes (fngate up --max-bundle-mib); list what need not ship in .fnignore",
                    bundle_mib(max)
                ),
            )
            .into_response(),
        )
    };
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            Box::new(ApiError::new(StatusCode::BAD_REQUEST, format!("the upload broke off: {err}")).into_response())
        })?;
        if bytes.len() as u64 + chunk.len() as u64 > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn bundle_mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// Unpacks the upload into a new directory under `code_root`, re-packs it canonically and moves
/// it to `code_root/<sha256 hex>` (kept if there already: same digest, same tree). Returns
/// (code dir, canonical bundle).
fn receive_bundle(
    bytes: &[u8],
    code_root: &Path,
    limits: &bundle::Limits,
) -> Result<(PathBuf, bundle::Packed), BundleError> {
    let io = |err: std::io::Error| BundleError::Io(format!("cannot store the bundle: {err}"));
    std::fs::create_dir_all(code_root).map_err(io)?;
    let staging = code_root.join(format!(".incoming-{}", model::new_id().to_lowercase()));
    let result =
        bundle::unpack(bytes, &staging, limits).and_then(|_| bundle::pack_dir(&staging, &IgnoreRules::none(), limits));
    let packed = match result {
        Ok(packed) => packed,
        Err(err) => {
            remove_quietly(&staging);
            return Err(err);
        }
    };
    let hex = packed.digest.trim_start_matches("sha256:");
    let code_dir = code_root.join(hex);
    if code_dir.is_dir() {
        remove_quietly(&staging);
    } else if let Err(err) = std::fs::rename(&staging, &code_dir) {
        remove_quietly(&staging);
        // Another deploy of the same code got there first.
        if !code_dir.is_dir() {
            return Err(io(err));
        }
    }
    Ok((code_dir, packed))
}

async fn deploy(
    rt: &Arc<Runtime>,
    request: &DeployRequest,
    upload: Vec<u8>,
    tx: &UnboundedSender<DeployEvent>,
) -> Result<DeployResult, String> {
    let step = |text: String| {
        let _ = tx.send(DeployEvent::Step(text));
    };
    step(format!("Unpacking the bundle ({} bytes)", upload.len()));
    let code_root = rt.code_dir().clone();
    let limits = rt.bundle_limits();
    let (code_dir, packed) = tokio::task::spawn_blocking(move || receive_bundle(&upload, &code_root, &limits))
        .await
        .map_err(internal)?
        .map_err(|e| e.to_string())?;
    let new_bundle = rt
        .store()
        .put_bundle(&packed.digest, packed.entries as i64, &packed.bytes)
        .await
        .map_err(internal)?;
    step(format!(
        "Stored bundle {} ({} entries{})",
        packed.digest,
        packed.entries,
        if new_bundle { "" } else { ", already stored" }
    ));
    drop(packed.bytes);
    let dir = &code_dir;
    // Messages name func.yaml as the user knows it, not the server's copy.
    let server_path = dir.join(crate::funcfile::FILE_NAME).display().to_string();
    let parsed = crate::funcfile::load(dir).map_err(|mut e| {
        e.path = PathBuf::from(crate::funcfile::FILE_NAME);
        e.to_string()
    })?;
    for warning in parsed.warnings {
        let warning = warning.replacen(&server_path, crate::funcfile::FILE_NAME, 1);
        let _ = tx.send(DeployEvent::Warning(warning));
    }
    let file = parsed.file;
    let name = file.name.clone().unwrap_or_default();
    let runtime_name = file.runtime.clone().unwrap_or_else(|| "python".into());
    let lang = Lang::for_runtime(&runtime_name).map_err(|m| format!("func.yaml: runtime: {m}"))?;
    let container_command = match (&file.entrypoint, &file.cmd) {
        (Some(entrypoint), Some(cmd)) => format!("{entrypoint} {cmd}"),
        (Some(entrypoint), None) => entrypoint.clone(),
        (None, Some(cmd)) => cmd.clone(),
        (None, None) => lang.default_entrypoint().to_string(),
    };
    if let Some(script) = lang::script_of(&container_command)
        && !dir.join(&script).is_file()
    {
        return Err(format!(
            "{script} is not in the bundle (func.yaml runs `{container_command}`)"
        ));
    }
    model::validate_app_name(&request.app).map_err(|m| format!("app {:?}: {m}", request.app))?;
    let existing_app = db::get_app_by_name(rt.store().pool(), &request.app)
        .await
        .map_err(internal)?;
    if existing_app.is_none() && !request.create_app {
        return Err(format!(
            "app {:?} not found; create it with `fngate deploy --create-app` (or POST /v2/apps)",
            request.app
        ));
    }
    let version = request
        .version
        .clone()
        .or(file.version.clone())
        .unwrap_or_else(|| "0.0.1".into());

    let _preparing = rt.preparing(&request.app, &name, &version);

    let interpreter_name = lang.interpreter(&runtime_name);
    step(format!("Preparing the {runtime_name} environment"));
    let envs_dir = rt.envs_dir().clone();
    let progress_tx = tx.clone();
    let env_code_dir = code_dir.clone();
    let sandbox = rt.sandbox().clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let progress = |line: String| {
            let _ = progress_tx.send(DeployEvent::Step(line));
        };
        let interpreter = crate::prepare::resolve_interpreter(lang, &interpreter_name)?;
        let prepared = crate::prepare::prepare_env(&sandbox, lang, &interpreter, &env_code_dir, &envs_dir, &progress)?;
        Ok::<_, anyhow::Error>((prepared, interpreter))
    })
    .await
    .map_err(internal)?;
    let ((env_dir, env_key, env_reused), interpreter) = prepared.map_err(|e| format!("{e:#}"))?;
    let requested =
        crate::funcfile::provisioned_concurrency(&file).map_err(|(field, m)| format!("func.yaml: {field}: {m}"))?;
    let max_per_fn = rt.config().max_instances_per_fn.max(1);
    if requested > max_per_fn {
        let _ = tx.send(DeployEvent::Warning(format!(
            "func.yaml: deploy.oci.provisioned_concurrency.count: {requested} is more than this server's --max-instances-per-fn ({max_per_fn}); keeping {max_per_fn} instances warm"
        )));
    }
    let provisioned = requested.min(max_per_fn);
    let layout = rt.sandbox().layout();
    let command = match layout {
        // The sandbox shows the container's paths: the command runs as written.
        Layout::Fn => container_command.split_whitespace().map(str::to_string).collect(),
        Layout::Host => lang::map_command(&container_command, &code_dir, &env_dir),
    };
    let deployment = Deployment {
        lang,
        runtime: runtime_name.clone(),
        version: version.clone(),
        code_dir: code_dir.clone(),
        env_dir,
        env_key,
        command,
        layout,
        runtime_dirs: interpreter.runtime_dirs,
        provisioned,
        bundle: Some(packed.digest.clone()),
    };

    step(format!("Saving {}/{name} version {version}", request.app));
    let _guard = rt.lock_writes().await;
    let mut txn = rt.store().pool().begin().await.map_err(internal)?;
    let (app_row, app_created) = match db::get_app_by_name(rt.store().pool(), &request.app)
        .await
        .map_err(internal)?
    {
        Some(app) => {
            if let Some(url) = app.syslog_url.as_deref().filter(|u| !u.is_empty()) {
                let _ = tx.send(DeployEvent::Warning(format!(
                    "app {:?}: syslog_url ({url}): {}",
                    app.name,
                    crate::model::SYSLOG_NOT_ACTED_ON
                )));
            }
            (app, false)
        }
        None => {
            let row = new_app_row(AppInput {
                name: Some(request.app.clone()),
                ..AppInput::default()
            })
            .map_err(|e| e.message)?;
            db::insert_app(&mut txn, &row).await.map_err(internal)?;
            (row, true)
        }
    };
    let config = file.config.clone().map(|c| {
        c.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<String, Value>>()
    });
    let annotations = file
        .annotations
        .clone()
        .map(|a| a.into_iter().collect::<Map<String, Value>>());
    let input = FnInput {
        image: Some(format!("{name}:{version}")),
        memory: file.memory,
        timeout: file.timeout,
        idle_timeout: file.idle_timeout,
        config,
        annotations,
        ..FnInput::default()
    };
    let deployment_json = serde_json::to_string(&deployment).map_err(internal)?;
    let fn_row = match db::get_fn_by_name(&mut txn, &app_row.id, &name)
        .await
        .map_err(internal)?
    {
        Some(existing) => {
            let mut row = merge_fn(&existing, &input).map_err(api_message)?;
            row.deployment = Some(deployment_json);
            db::update_fn(&mut txn, &row).await.map_err(internal)?;
            row
        }
        None => {
            let blank = FnRow {
                id: model::new_id(),
                app_id: app_row.id.clone(),
                name: name.clone(),
                image: String::new(),
                memory: model::DEFAULT_MEMORY as i64,
                timeout: model::DEFAULT_TIMEOUT as i64,
                idle_timeout: model::DEFAULT_IDLE_TIMEOUT as i64,
                config: "{}".into(),
                annotations: "{}".into(),
                shape: app_row.shape.clone(),
                deployment: None,
                created_at: model::now(),
                updated_at: model::now(),
            };
            let mut row = merge_fn(&blank, &input).map_err(api_message)?;
            row.created_at = row.updated_at.clone();
            row.deployment = Some(deployment_json);
            db::insert_fn(&mut txn, &row).await.map_err(|e| match e {
                StoreError::Conflict { .. } => "Fn with specified name already exists".to_string(),
                other => internal(other),
            })?;
            row
        }
    };
    let mut triggers = Vec::new();
    let existing_triggers = db::list_triggers(
        rt.store().pool(),
        &app_row.id,
        Some(&fn_row.id),
        &db::Page {
            limit: 1000,
            ..db::Page::default()
        },
    )
    .await
    .map_err(internal)?;
    for spec in file.triggers.iter().flatten() {
        check_trigger(&spec.kind, &spec.source).map_err(api_message)?;
        let now = model::now();
        let row = match existing_triggers.iter().find(|t| t.name == spec.name) {
            Some(old) => TriggerRow {
                source: spec.source.clone(),
                updated_at: now,
                ..old.clone()
            },
            None => TriggerRow {
                id: model::new_id(),
                app_id: app_row.id.clone(),
                fn_id: fn_row.id.clone(),
                name: spec.name.clone(),
                kind: spec.kind.clone(),
                source: spec.source.clone(),
                annotations: "{}".into(),
                created_at: now.clone(),
                updated_at: now,
            },
        };
        if existing_triggers.iter().any(|t| t.id == row.id) {
            db::update_trigger_in(&mut txn, &row)
                .await
                .map_err(|e| format!("trigger {:?}: {}", spec.name, trigger_conflict(e).message))?;
        } else {
            db::insert_trigger(&mut txn, &row)
                .await
                .map_err(|e| format!("trigger {:?}: {}", spec.name, trigger_conflict(e).message))?;
        }
        triggers.push(Trigger::from(&row));
    }
    txn.commit().await.map_err(internal)?;
    rt.reload().await.map_err(|e| format!("{e:#}"))?;
    drop(_guard);
    if provisioned > 0 {
        step(format!("Starting {provisioned} provisioned instance(s)"));
        let pool = rt.snapshot().fns.get(&fn_row.id).and_then(|e| e.pool.clone());
        let ready = match pool {
            Some(pool) => pool.warm().await,
            None => 0,
        };
        if ready < provisioned {
            let _ = tx.send(DeployEvent::Warning(format!(
                "only {ready} of {provisioned} provisioned instances started (see `fngate logs {} {name}`); fngate keeps trying",
                request.app
            )));
        } else {
            step(format!("{ready} provisioned instance(s) ready"));
        }
    }
    Ok(DeployResult {
        app_id: app_row.id,
        app_created,
        function: Fn::from(&fn_row),
        triggers,
        env_reused,
        bundle: Some(packed.digest),
    })
}

fn internal(err: impl std::fmt::Display) -> String {
    tracing::error!(error = %err, "deploy failed");
    format!("internal error: {err}")
}

fn api_message(err: ApiError) -> String {
    err.message
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
