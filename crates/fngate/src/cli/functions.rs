//! `fngate init | deploy | invoke | list | delete | logs | create` — Fn-style function commands.
//! `init` works offline; the others talk to the running server's admin API.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use fngate_functions::bundle::{IgnoreRules, ignore, pack_dir};
use fngate_functions::deploy::{DeployEvent, DeployRequest};
use fngate_functions::funcfile;
use fngate_functions::lang::{self, Lang};
use fngate_functions::model::{App, Fn, List, Trigger};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::GlobalArgs;
use super::client::{AdminClient, check};
use super::output::print_list;

#[derive(Debug, Subcommand)]
pub enum FnCommand {
    /// Create a function directory with func.yaml and a hello-world handler, as `fn init` does.
    Init {
        /// Language runtime of the new function.
        #[arg(long, value_enum)]
        runtime: InitRuntime,
        /// Also declare an HTTP trigger `/NAME` in func.yaml.
        #[arg(long, value_enum)]
        trigger: Option<TriggerKind>,
        /// Function name; the files go to ./NAME (created; must not hold a function already).
        name: String,
    },
    /// Deploy the function in DIR (default: current directory) to an app on the server.
    ///
    /// Validates func.yaml, bumps its patch version (written back on success), packs DIR into a
    /// tar.gz bundle (leaving out what .fnignore lists, as `fn` does, and .git, node_modules,
    /// .venv, …) and uploads it through the admin API. The server, local or remote, stores the
    /// bundle by its sha256, prepares the environment (Python venv + requirements.txt, or npm
    /// install; reused while the dependency files are unchanged) and creates or updates the
    /// function and its triggers. It never reads this machine's disk.
    Deploy {
        /// App to deploy into.
        #[arg(long)]
        app: String,
        /// Create the app if it does not exist.
        #[arg(long)]
        create_app: bool,
        /// Keep func.yaml's version as it is.
        #[arg(long)]
        no_bump: bool,
        /// Refuse to upload a bundle larger than this (MiB, compressed); the server has its
        /// own cap (`fngate up --max-bundle-mib`).
        #[arg(long, default_value_t = fngate_functions::bundle::DEFAULT_MAX_BUNDLE_MIB)]
        max_bundle_mib: u64,
        /// Refuse to upload more files, directories and symlinks than this (the server has its
        /// own cap, `fngate up --max-bundle-entries`).
        #[arg(long, default_value_t = fngate_functions::bundle::DEFAULT_MAX_BUNDLE_ENTRIES)]
        max_bundle_entries: usize,
        /// Function directory holding func.yaml.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Call a function; the request body is read from stdin when it is not a terminal.
    ///
    /// Prints the function's response body; exits non-zero when the call fails.
    Invoke {
        /// App name.
        app: String,
        /// Function name.
        function: String,
        /// Content-Type of the request body.
        #[arg(long, default_value = "text/plain")]
        content_type: String,
        /// Print the response status and headers to stderr.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// List apps, functions or triggers (`--output json` for scripts).
    #[command(subcommand)]
    List(ListCommand),
    /// Create an empty app.
    #[command(subcommand)]
    Create(CreateCommand),
    /// Delete an app (with its functions and triggers), a function or a trigger.
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// Show a function's output (stdout/stderr), each line tagged with its call id.
    Logs {
        /// App name.
        app: String,
        /// Function name.
        function: String,
        /// Keep printing new lines as they are written.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only the last N stored lines.
        #[arg(long)]
        tail: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InitRuntime {
    Python,
    Node,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TriggerKind {
    Http,
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// All apps.
    Apps,
    /// Functions of an app.
    Fns {
        /// App name.
        app: String,
    },
    /// Triggers of an app (optionally of one function).
    Triggers {
        /// App name.
        app: String,
        /// Only this function's triggers.
        function: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create an app.
    App {
        /// App name (letters, digits, `_` and `-`).
        name: String,
        /// Syslog URL stored with the app, as Fn's `--syslog-url` (fngate keeps it but does not
        /// send function output there; it warns so).
        #[arg(long)]
        syslog_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Delete an app with all its functions and triggers.
    App {
        /// App name.
        app: String,
    },
    /// Delete a function and its triggers.
    Fn {
        /// App name.
        app: String,
        /// Function name.
        function: String,
    },
    /// Delete a trigger.
    Trigger {
        /// App name.
        app: String,
        /// Function name.
        function: String,
        /// Trigger name.
        trigger: String,
    },
}

pub async fn run(command: FnCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    match command {
        FnCommand::Init { runtime, trigger, name } => init(runtime, trigger.is_some(), &name).await,
        FnCommand::Deploy {
            app,
            create_app,
            no_bump,
            max_bundle_mib,
            max_bundle_entries,
            dir,
        } => {
            let limits = fngate_functions::bundle::Limits::new(max_bundle_mib, max_bundle_entries);
            deploy(global, app, create_app, no_bump, &dir, limits).await
        }
        FnCommand::Invoke {
            app,
            function,
            content_type,
            verbose,
        } => invoke(global, &app, &function, &content_type, verbose).await,
        FnCommand::List(list) => list_cmd(global, list).await,
        FnCommand::Create(CreateCommand::App { name, syslog_url }) => {
            let client = AdminClient::new(global)?;
            let mut body = json!({ "name": name });
            if let Some(url) = syslog_url {
                body["syslog_url"] = json!(url);
            }
            let app: App = client.post("/v2/apps", &body).await?;
            println!("Successfully created app: {}", app.name);
            Ok(())
        }
        FnCommand::Delete(delete) => delete_cmd(global, delete).await,
        FnCommand::Logs {
            app,
            function,
            follow,
            tail,
        } => logs(global, &app, &function, follow, tail).await,
    }
}

// === init ===

async fn init(runtime: InitRuntime, trigger: bool, name: &str) -> anyhow::Result<()> {
    let name = name.to_lowercase();
    fngate_functions::model::validate_fn_name(&name).map_err(|m| anyhow!("function name: {m}"))?;
    let lang = match runtime {
        InitRuntime::Python => Lang::Python,
        InitRuntime::Node => Lang::Node,
    };
    let dir = PathBuf::from(&name);
    if dir.join(funcfile::FILE_NAME).exists() {
        bail!(
            "{} already exists; not overwriting it",
            dir.join(funcfile::FILE_NAME).display()
        );
    }
    let fdk_version = latest_fdk_version(lang).await;
    let files = lang::init_files(lang, &name, trigger, fdk_version.as_deref());
    for (file, _) in &files {
        if dir.join(file).exists() {
            bail!("{} already exists; not overwriting it", dir.join(file).display());
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, contents) in files {
        std::fs::write(dir.join(file), contents)
            .with_context(|| format!("cannot write {}", dir.join(file).display()))?;
    }
    println!("Creating function at: ./{name}");
    println!("Function boilerplate generated.");
    println!("func.yaml created.");
    Ok(())
}

/// The latest FDK version, as `fn init` asks PyPI / npm; `None` when offline.
async fn latest_fdk_version(lang: Lang) -> Option<String> {
    let (url, pointer) = match lang {
        Lang::Python => ("https://pypi.org/pypi/fdk/json", "/info/version"),
        Lang::Node => ("https://registry.npmjs.org/@fnproject/fdk/latest", "/version"),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let body: serde_json::Value = client.get(url).send().await.ok()?.json().await.ok()?;
    body.pointer(pointer)?.as_str().map(str::to_string)
}

// === deploy ===

async fn deploy(
    global: &GlobalArgs,
    app: String,
    create_app: bool,
    no_bump: bool,
    dir: &Path,
    limits: fngate_functions::bundle::Limits,
) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("function directory {} not found", dir.display()))?;
    let yaml_path = dir.join(funcfile::FILE_NAME);
    // Checked here so mistakes show with this machine's path; the server checks again and
    // reports the warnings (unknown or unused fields).
    let parsed = funcfile::load(&dir)?;
    let file = &parsed.file;
    let runtime = file.runtime.as_deref().unwrap_or("python");
    let lang = Lang::for_runtime(runtime).map_err(|m| anyhow!("{}: runtime: {m}", yaml_path.display()))?;
    let command = match (&file.entrypoint, &file.cmd) {
        (Some(e), Some(c)) => format!("{e} {c}"),
        (Some(e), None) => e.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => lang.default_entrypoint().to_string(),
    };
    if let Some(script) = lang::script_of(&command)
        && !dir.join(&script).is_file()
    {
        bail!("{script} not found in {} (func.yaml runs `{command}`)", dir.display());
    }
    let version = if no_bump {
        file.version.clone()
    } else {
        Some(
            funcfile::bump_version(file.version.as_deref())
                .map_err(|m| anyhow!("{}: version: {m}", yaml_path.display()))?,
        )
    };
    let name = file.name.clone().unwrap_or_default();
    let client = AdminClient::new(global)?;
    let request = DeployRequest {
        app: app.clone(),
        create_app,
        version: version.clone(),
    };
    let progress = Progress::new();
    progress.step(format!("Packing {}", dir.display()));
    let pack_from = dir.clone();
    let packed = tokio::task::spawn_blocking(move || {
        let rules = IgnoreRules::load(&pack_from)
            .with_context(|| format!("cannot read {}", pack_from.join(ignore::FILE_NAME).display()))?;
        let packed = pack_dir(&pack_from, &rules, &limits).map_err(|e| anyhow!("{e}"))?;
        Ok::<_, anyhow::Error>((packed, rules.from_file))
    })
    .await
    .context("packing the function failed")?;
    let (packed, used_fnignore) = match packed {
        Ok(done) => done,
        Err(err) => {
            progress.finish();
            return Err(err);
        }
    };
    progress.step(format!(
        "Uploading {} ({} entries, {} bytes{}) to {}",
        packed.digest,
        packed.entries,
        packed.bytes.len(),
        if used_fnignore { ", .fnignore applied" } else { "" },
        global.server
    ));
    let upload = client
        .request(Method::POST, &format!("/fngate/functions/deploy?{}", request.query()))?
        .header(
            reqwest::header::CONTENT_TYPE,
            fngate_functions::deploy::BUNDLE_CONTENT_TYPE,
        )
        .body(packed.bytes);
    let response = match client.send(upload).await {
        Ok(response) => check(response).await,
        Err(err) => Err(err),
    };
    let response = match response {
        Ok(response) => response,
        Err(err) => {
            progress.finish();
            return Err(err);
        }
    };
    progress.step(format!("Deploying {name} to app {app}"));
    let mut response = response;
    let mut buffer = Vec::new();
    let mut outcome = None;
    while let Some(chunk) = response.chunk().await.context("the deploy stream broke")? {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let event: DeployEvent = serde_json::from_slice(&line).context("unexpected deploy stream line")?;
            match event {
                DeployEvent::Step(text) => progress.step(text),
                DeployEvent::Warning(text) => progress.warn(text),
                DeployEvent::Error(message) => outcome = Some(Err(message)),
                DeployEvent::Done(done) => outcome = Some(Ok(done)),
            }
        }
    }
    progress.finish();
    match outcome {
        None => bail!("the server closed the deploy stream without a result"),
        Some(Err(message)) => bail!("deploy failed: {message}"),
        Some(Ok(done)) => {
            if let (Some(version), false) = (&version, no_bump) {
                let text = std::fs::read_to_string(&yaml_path)?;
                std::fs::write(&yaml_path, funcfile::set_version(&text, version))
                    .with_context(|| format!("cannot write the new version to {}", yaml_path.display()))?;
            }
            if done.app_created {
                println!("Created app {app}");
            }
            println!(
                "Successfully deployed {} ({}) to app {app}{}",
                done.function.name,
                done.function.image,
                if done.env_reused { " (environment reused)" } else { "" }
            );
            println!("  fn id    {}", done.function.id);
            println!(
                "  invoke   fngate invoke {app} {}   (or POST /invoke/{})",
                done.function.name, done.function.id
            );
            for trigger in &done.triggers {
                println!(
                    "  trigger  {}: /t/{app}{} on the functions listener",
                    trigger.name, trigger.source
                );
            }
            Ok(())
        }
    }
}

/// A spinner on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress { bar }
    }

    fn step(&self, text: String) {
        match &self.bar {
            Some(bar) => {
                let previous = bar.message();
                if !previous.is_empty() {
                    bar.println(format!("  ✓ {previous}"));
                }
                bar.set_message(text);
            }
            None => eprintln!("==> {text}"),
        }
    }

    fn warn(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(format!("warning: {text}")),
            None => eprintln!("warning: {text}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

// === lookups ===

async fn get_json<T: DeserializeOwned>(client: &AdminClient, path: &str, query: &[(&str, &str)]) -> anyhow::Result<T> {
    client.get(&with_query(path, query)).await
}

/// `path?k=v&…`, form-encoded.
fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{path}?{encoded}")
}

async fn find_app(client: &AdminClient, app: &str) -> anyhow::Result<App> {
    let list: List<App> = get_json(client, "/v2/apps", &[("name", app)]).await?;
    list.items
        .into_iter()
        .find(|a| a.name == app)
        .ok_or_else(|| anyhow!("app {app:?} not found (see `fngate list apps`)"))
}

async fn find_fn(client: &AdminClient, app: &App, function: &str) -> anyhow::Result<Fn> {
    let list: List<Fn> = get_json(client, "/v2/fns", &[("app_id", &app.id), ("name", function)]).await?;
    list.items.into_iter().find(|f| f.name == function).ok_or_else(|| {
        anyhow!(
            "function {function:?} not found in app {:?} (see `fngate list fns {}`)",
            app.name,
            app.name
        )
    })
}

/// Every page of a list endpoint.
async fn list_all<T: DeserializeOwned>(
    client: &AdminClient,
    path: &str,
    query: &[(&str, &str)],
) -> anyhow::Result<Vec<T>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("per_page", "100"));
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let page: List<T> = get_json(client, path, &q).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

// === invoke ===

async fn invoke(
    global: &GlobalArgs,
    app: &str,
    function: &str,
    content_type: &str,
    verbose: bool,
) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    let app = find_app(&client, app).await?;
    let f = find_fn(&client, &app, function).await?;
    let mut body = Vec::new();
    if !std::io::stdin().is_terminal() {
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read the request body from stdin")?;
    }
    let request = client
        .request(Method::POST, &format!("/invoke/{}", f.id))?
        .header("content-type", content_type)
        .body(body);
    let response = client.send(request).await?;
    let status = response.status();
    if verbose {
        eprintln!("{status}");
        for (name, value) in response.headers() {
            eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
        }
    }
    if !status.is_success() {
        let call_id = response
            .headers()
            .get("fn-call-id")
            .and_then(|v| v.to_str().ok())
            .map(|id| format!(" (call {id}; see `fngate logs {} {}`)", app.name, f.name))
            .unwrap_or_default();
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or(text);
        bail!("call failed with {status}: {message}{call_id}");
    }
    let bytes = response.bytes().await.context("cannot read the function's response")?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    if !bytes.ends_with(b"\n") && std::io::stdout().is_terminal() {
        out.write_all(b"\n")?;
    }
    Ok(())
}

// === list / delete ===

async fn list_cmd(global: &GlobalArgs, command: ListCommand) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    match command {
        ListCommand::Apps => {
            let apps: Vec<App> = list_all(&client, "/v2/apps", &[]).await?;
            let rows = apps.iter().map(|a| vec![a.name.clone(), a.id.clone()]).collect();
            print_list(global.output, &apps, &["name", "id"], rows);
        }
        ListCommand::Fns { app } => {
            let app = find_app(&client, &app).await?;
            let fns: Vec<Fn> = list_all(&client, "/v2/fns", &[("app_id", &app.id)]).await?;
            let rows = fns
                .iter()
                .map(|f| vec![f.name.clone(), f.image.clone(), f.memory.to_string(), f.id.clone()])
                .collect();
            print_list(global.output, &fns, &["name", "image", "memory", "id"], rows);
        }
        ListCommand::Triggers { app, function } => {
            let app = find_app(&client, &app).await?;
            let mut query = vec![("app_id", app.id.clone())];
            if let Some(function) = &function {
                query.push(("fn_id", find_fn(&client, &app, function).await?.id));
            }
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let triggers: Vec<Trigger> = list_all(&client, "/v2/triggers", &query).await?;
            let fns: Vec<Fn> = list_all(&client, "/v2/fns", &[("app_id", &app.id)]).await?;
            let rows = triggers
                .iter()
                .map(|t| {
                    let fn_name = fns
                        .iter()
                        .find(|f| f.id == t.fn_id)
                        .map(|f| f.name.clone())
                        .unwrap_or_default();
                    vec![t.name.clone(), t.id.clone(), fn_name, t.kind.clone(), t.source.clone()]
                })
                .collect();
            print_list(
                global.output,
                &triggers,
                &["name", "id", "function", "type", "source"],
                rows,
            );
        }
    }
    Ok(())
}

async fn delete_cmd(global: &GlobalArgs, command: DeleteCommand) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    match command {
        DeleteCommand::App { app } => {
            let found = find_app(&client, &app).await?;
            client.delete(&format!("/v2/apps/{}", found.id)).await?;
            println!("App {app} deleted");
        }
        DeleteCommand::Fn { app, function } => {
            let found = find_app(&client, &app).await?;
            let f = find_fn(&client, &found, &function).await?;
            client.delete(&format!("/v2/fns/{}", f.id)).await?;
            println!("Function {function} deleted");
        }
        DeleteCommand::Trigger { app, function, trigger } => {
            let found = find_app(&client, &app).await?;
            let f = find_fn(&client, &found, &function).await?;
            let triggers: Vec<Trigger> = list_all(
                &client,
                "/v2/triggers",
                &[("app_id", &found.id), ("fn_id", &f.id), ("name", &trigger)],
            )
            .await?;
            let t = triggers
                .into_iter()
                .find(|t| t.name == trigger)
                .ok_or_else(|| anyhow!("trigger {trigger:?} not found on {app}/{function}"))?;
            client.delete(&format!("/v2/triggers/{}", t.id)).await?;
            println!("Trigger {trigger} deleted");
        }
    }
    Ok(())
}

// === logs ===

async fn logs(global: &GlobalArgs, app: &str, function: &str, follow: bool, tail: Option<usize>) -> anyhow::Result<()> {
    let client = AdminClient::new(global)?;
    let tail = tail.map(|n| n.to_string());
    let mut query = vec![("app", app), ("fn", function)];
    if follow {
        query.push(("follow", "true"));
    }
    if let Some(n) = &tail {
        query.push(("tail", n));
    }
    let mut response = check(
        client
            .send(client.request(Method::GET, &with_query("/fngate/functions/logs", &query))?)
            .await?,
    )
    .await?;
    let mut out = std::io::stdout();
    while let Some(chunk) = response.chunk().await.context("the log stream broke")? {
        out.write_all(&chunk)?;
        out.flush()?;
    }
    Ok(())
}
