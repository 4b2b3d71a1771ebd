//! Shared harness for the functions integration tests: runs the real `fngate` binary on
//! loopback ports with a temp data dir, and the real FDKs (fdk from PyPI, @fnproject/fdk from npm).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_fngate");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test tools scripts/test.sh installs; fails loudly when they are missing.
pub fn test_tools() -> PathBuf {
    let dir = std::env::var_os("FNGATE_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/test-tools"));
    assert!(
        dir.join("venv/bin/fdk").is_file(),
        "the real Python fdk is missing from {} — run scripts/test.sh (it installs the test tools)",
        dir.display()
    );
    dir
}

/// Prepared environments and the pip cache are shared by every test (and test binary), so
/// pip and npm download once; fngate keys environments by dependency hash and locks them.
pub fn shared_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/fngate-test").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    child: Option<Child>,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub functions: String,
    pub admin: String,
}

pub struct ServerOptions {
    pub max_per_fn: usize,
    pub max_total: usize,
    pub queue_timeout_ms: u64,
    pub data: Option<PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_per_fn: 4,
            max_total: 64,
            queue_timeout_ms: 5000,
            data: None,
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> Server {
        test_tools();
        let (tmp, data) = match options.data {
            Some(data) => (None, data),
            None => {
                let tmp = tempfile::Builder::new().prefix("fng").tempdir().unwrap();
                let data = tmp.path().join("data");
                (Some(tmp), data)
            }
        };
        let mut child = Command::new(BIN)
            .args(["up", "--data-dir"])
            .arg(&data)
            .args([
                "--functions-addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--gateway-addr",
                "127.0.0.1:0",
                "--idp-addr",
                "127.0.0.1:0",
                "--max-instances-per-fn",
                &options.max_per_fn.to_string(),
                "--max-instances-total",
                &options.max_total.to_string(),
            ])
            .env("FNGATE_ENVS_DIR", shared_dir("envs"))
            .env("PIP_CACHE_DIR", shared_dir("pip-cache"))
            .env("npm_config_cache", shared_dir("npm-cache"))
            .env("FNGATE_QUEUE_TIMEOUT_MS", options.queue_timeout_ms.to_string())
            .env("FNGATE_HOT_START_TIMEOUT_MS", "10000")
            .env("FNGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fngate up");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut functions, mut admin) = (None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["functions", url, ..] => functions = Some(url.to_string()),
                ["admin", url, ..] => admin = Some(url.to_string()),
                _ => {}
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            data,
            _tmp: tmp,
            functions: functions.expect("fngate up printed no functions address"),
            admin: admin.expect("fngate up printed no admin address"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, as a crash would; the data dir stays for a restart.
    pub fn kill9(&mut self) -> PathBuf {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        self.data.clone()
    }

    /// Runs the CLI against this server, optionally feeding stdin.
    pub fn cli(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["--server", &self.admin, "--data-dir"])
            .arg(&self.data)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Like `cli`, asserting success; returns stdout.
    pub fn cli_ok(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.cli(dir, args, stdin);
        assert!(
            out.status.success(),
            "fngate {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub async fn status(&self) -> serde_json::Value {
        reqwest::get(format!("{}/fngate/functions/status", self.admin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn fn_status(&self, app: &str, function: &str) -> serde_json::Value {
        self.status().await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["app"] == app && i["fn"] == function)
            .cloned()
            .unwrap_or_else(|| panic!("{app}/{function} missing from status"))
    }

    pub async fn fn_id(&self, app: &str, function: &str) -> String {
        self.fn_status(app, function).await["fn_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `fngate init` in `parent`; returns the function directory.
pub fn init(server: &Server, parent: &Path, runtime: &str, name: &str, trigger: bool) -> PathBuf {
    let mut args = vec!["init", "--runtime", runtime];
    if trigger {
        args.extend(["--trigger", "http"]);
    }
    args.push(name);
    server.cli_ok(parent, &args, None);
    parent.join(name)
}

/// Appends lines to func.yaml.
pub fn append_yaml(dir: &Path, extra: &str) {
    let path = dir.join("func.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    std::fs::write(path, text).unwrap();
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

/// POSTs `body` to `url` with optional headers.
pub async fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

pub fn process_alive(pid: i32) -> bool {
    // A zombie counts as gone: it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}
