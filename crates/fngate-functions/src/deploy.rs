//! Server side of `fngate deploy`: validate func.yaml, snapshot the code, prepare (or reuse) the
//! language environment, then create or update the app, fn and triggers in one transaction.
//! Progress streams to the CLI as NDJSON ([`DeployEvent`] per line). Nothing is stored unless
//! every step succeeded; a redeploy retires the old pool so in-flight calls finish on the old
//! instances while new calls start new ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fngate_store::StoreError;
use fngate_store::functions::{self as db, FnRow, TriggerRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;

use crate::Runtime;
use crate::api::{ApiError, check_trigger, merge_fn, new_app_row, trigger_conflict};
use crate::lang::{self, Lang};
use crate::model::{self, AppInput, Fn, FnInput, Trigger};
use crate::registry::Deployment;
use crate::sandbox::Layout;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRequest {
    /// App name.
    pub app: String,
    #[serde(default)]
    pub create_app: bool,
    /// Absolute path of the function directory (the server reads it; CLI and server share a machine).
    pub dir: PathBuf,
    /// The version to record (the CLI bumps it and writes it back on success).
    #[serde(default)]
    pub version: Option<String>,
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
}

pub async fn deploy_handler(State(rt): State<Arc<Runtime>>, Json(request): Json<DeployRequest>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<DeployEvent>();
    // The deploy runs to completion even if the client goes away (nothing half-way).
    tokio::spawn(async move {
        let result = deploy(&rt, &request, &tx).await;
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

async fn deploy(
    rt: &Arc<Runtime>,
    request: &DeployRequest,
    tx: &UnboundedSender<DeployEvent>,
) -> Result<DeployResult, String> {
    let step = |text: String| {
        let _ = tx.send(DeployEvent::Step(text));
    };
    let dir = &request.dir;
    if !dir.is_absolute() {
        return Err(format!("deploy needs an absolute directory, got {}", dir.display()));
    }
    step(format!("Reading {}", dir.join(crate::funcfile::FILE_NAME).display()));
    let parsed = crate::funcfile::load(dir).map_err(|e| e.to_string())?;
    for warning in parsed.warnings {
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
            "{script} not found in {} (func.yaml runs `{container_command}`)",
            dir.display()
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

    step("Copying the function code".into());
    let code_root = rt.code_dir().clone();
    let source = dir.clone();
    let code_dir = tokio::task::spawn_blocking(move || crate::prepare::snapshot(&source, &code_root))
        .await
        .map_err(internal)?
        .map_err(|e| format!("{e:#}"))?;
    let cleanup = SnapshotGuard(Some(code_dir.clone()));

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
    };

    step(format!("Saving {}/{name} version {version}", request.app));
    let _guard = rt.lock_writes().await;
    let mut txn = rt.store().pool().begin().await.map_err(internal)?;
    let (app_row, app_created) = match db::get_app_by_name(rt.store().pool(), &request.app)
        .await
        .map_err(internal)?
    {
        Some(app) => (app, false),
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
    cleanup.keep();
    rt.reload().await.map_err(|e| format!("{e:#}"))?;
    Ok(DeployResult {
        app_id: app_row.id,
        app_created,
        function: Fn::from(&fn_row),
        triggers,
        env_reused,
    })
}

fn internal(err: impl std::fmt::Display) -> String {
    tracing::error!(error = %err, "deploy failed");
    format!("internal error: {err}")
}

fn api_message(err: ApiError) -> String {
    err.message
}

/// Removes a code snapshot unless the deploy got as far as storing it.
struct SnapshotGuard(Option<PathBuf>);

impl SnapshotGuard {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            remove_quietly(&path);
        }
    }
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
