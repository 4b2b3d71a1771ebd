//! Shared harness for the binary's integration tests: runs the real `fngate up` (or `fngate idp
//! serve`) on loopback ports with a data dir, and the CLI against it; functions use the real FDKs
//! (fdk from PyPI, @fnproject/fdk from npm).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
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

/// The binary, without the settings a developer's shell may carry that would point the CLI
/// elsewhere.
pub fn fngate() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_remove("FNGATE_SERVER")
        .env_remove("FNGATE_ADMIN_TOKEN")
        .env_remove("FNGATE_IDP");
    command
}

/// `fngate up --data-dir DATA` with every listener on a free loopback port: for runs that must be
/// refused at start (the caller adds the flag under test).
pub fn fngate_up_on_free_ports(data: &Path) -> Command {
    let mut command = fngate();
    command.args(["up", "--data-dir"]).arg(data);
    for flag in [
        "--gateway-addr",
        "--functions-addr",
        "--idp-addr",
        "--admin-addr",
        "--oci-addr",
    ] {
        command.args([flag, "127.0.0.1:0"]);
    }
    command
}

#[derive(Clone, Copy)]
/// Fixed loopback ports, so a restarted server is reachable where the deployment's JWKS URI
/// points (the IdP's address is part of the stored specification).
pub struct Ports {
    pub gateway: u16,
    pub functions: u16,
    pub idp: u16,
    pub admin: u16,
}

impl Ports {
    pub fn free() -> Ports {
        // Hold all four listeners at once so the OS hands out four distinct ports.
        let listeners: Vec<std::net::TcpListener> = (0..4)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let port = |i: usize| listeners[i].local_addr().unwrap().port();
        Ports {
            gateway: port(0),
            functions: port(1),
            idp: port(2),
            admin: port(3),
        }
    }
}

#[derive(Default)]
pub struct ServerOptions {
    /// Ports 0 when `None`: the server picks free ones.
    pub ports: Option<Ports>,
    /// A fresh temp dir when `None`.
    pub data: Option<PathBuf>,
    /// More arguments for the serving command, such as `--demo`.
    pub args: Vec<String>,
    pub pools: Pools,
    /// `RLIMIT_NOFILE` (soft and hard) for the server process.
    pub nofile: Option<u64>,
    /// Run the server as this (uid, gid) instead of the test's own (the test must be root).
    pub run_as: Option<(u32, u32)>,
    /// `FNGATE_ENVS_DIR` and `PIP_CACHE_DIR` instead of the shared ones (a server of another
    /// uid cannot write those).
    pub envs_dir: Option<PathBuf>,
    pub pip_cache: Option<PathBuf>,
}

/// The functions' instance pools: small, with a short queue, so that overload shows quickly.
pub struct Pools {
    pub max_per_fn: usize,
    pub max_total: usize,
    /// `FNGATE_QUEUE_TIMEOUT_MS`: how long a call waits for an instance before a 503.
    pub queue_timeout_ms: u64,
}

impl Default for Pools {
    fn default() -> Self {
        Pools {
            max_per_fn: 4,
            max_total: 64,
            queue_timeout_ms: 5000,
        }
    }
}

/// The serving command: all of `fngate up`, or `fngate idp serve`.
enum Serve {
    Up,
    IdpOnly,
}

pub struct Server {
    child: Option<Child>,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// Every stdout line so far (the endpoint table, the access log).
    stdout: Arc<Mutex<Vec<String>>>,
    /// Every stderr line so far (the server log; also echoed to the test's stderr).
    stderr: Arc<Mutex<Vec<String>>>,
    /// (listener, URL) as the endpoint table printed them.
    endpoints: Vec<(String, String)>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> Server {
        Server::spawn(Serve::Up, options)
    }

    /// `fngate idp serve`: the IdP and its admin API alone.
    pub fn start_idp(data: &Path) -> Server {
        let options = ServerOptions {
            data: Some(data.to_path_buf()),
            ..ServerOptions::default()
        };
        Server::spawn(Serve::IdpOnly, options)
    }

    fn spawn(serve: Serve, options: ServerOptions) -> Server {
        let (tmp, data) = match options.data {
            Some(data) => (None, data),
            None => {
                let tmp = tempfile::Builder::new().prefix("fng").tempdir().unwrap();
                let data = tmp.path().join("data");
                (Some(tmp), data)
            }
        };
        let addr = |port: Option<u16>| format!("127.0.0.1:{}", port.unwrap_or(0));
        let ports = options.ports;
        let mut command = fngate();
        if let Serve::IdpOnly = serve {
            command.args(["idp", "serve"]);
        } else {
            test_tools();
            command
                .arg("up")
                .args(["--gateway-addr", &addr(ports.map(|p| p.gateway))])
                .args(["--functions-addr", &addr(ports.map(|p| p.functions))])
                // A free port always: the OCI listener keeps no address in stored state.
                .args(["--oci-addr", "127.0.0.1:0"])
                .args(["--max-instances-per-fn", &options.pools.max_per_fn.to_string()])
                .args(["--max-instances-total", &options.pools.max_total.to_string()]);
        }
        if let Some(n) = options.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: only the setrlimit syscall runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                        .map_err(std::io::Error::from)
                });
            }
        }
        if let Some((uid, gid)) = options.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid).env("HOME", data.parent().unwrap_or(&data));
        }
        let mut child = command
            .args(["--idp-addr", &addr(ports.map(|p| p.idp))])
            .args(["--admin-addr", &addr(ports.map(|p| p.admin))])
            .args(&options.args)
            .arg("--data-dir")
            .arg(&data)
            .env(
                "FNGATE_ENVS_DIR",
                options.envs_dir.clone().unwrap_or_else(|| shared_dir("envs")),
            )
            .env(
                "PIP_CACHE_DIR",
                options.pip_cache.clone().unwrap_or_else(|| shared_dir("pip-cache")),
            )
            .env("npm_config_cache", shared_dir("npm-cache"))
            .env("FNGATE_QUEUE_TIMEOUT_MS", options.pools.queue_timeout_ms.to_string())
            .env("FNGATE_HOT_START_TIMEOUT_MS", "10000")
            .env("FNGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fngate");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                log_sink.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        // Reads to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let ready = line.starts_with("Press Ctrl-C");
                sink.lock().unwrap().push(line);
                if ready {
                    let _ = ready_tx.send(());
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            data,
            _tmp: tmp,
            stdout: lines,
            stderr: log,
            endpoints: Vec::new(),
        };
        ready_rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("fngate did not start; stdout so far:\n{}", server.stdout()));
        server.endpoints = server
            .stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                [name @ ("gateway" | "functions" | "idp" | "admin" | "oci"), url, ..] => {
                    Some((name.to_string(), url.to_string()))
                }
                _ => None,
            })
            .collect();
        server
    }

    /// `path` on the listener the endpoint table printed as `listener`.
    fn url(&self, listener: &str, path: &str) -> String {
        let (_, base) = self
            .endpoints
            .iter()
            .find(|(name, _)| name == listener)
            .unwrap_or_else(|| panic!("fngate printed no {listener} address"));
        format!("{base}{path}")
    }

    pub fn gateway(&self, path: &str) -> String {
        self.url("gateway", path)
    }

    pub fn functions(&self, path: &str) -> String {
        self.url("functions", path)
    }

    pub fn idp(&self, path: &str) -> String {
        self.url("idp", path)
    }

    pub fn admin(&self, path: &str) -> String {
        self.url("admin", path)
    }

    pub fn oci(&self, path: &str) -> String {
        self.url("oci", path)
    }

    /// The bound ports, to restart on the same addresses.
    pub fn ports(&self) -> Ports {
        let port = |listener: &str| {
            let url = self.url(listener, "");
            url.rsplit(':').next().unwrap().parse().unwrap()
        };
        Ports {
            gateway: port("gateway"),
            functions: port("functions"),
            idp: port("idp"),
            admin: port("admin"),
        }
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// Everything the server logged on stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The stdout line holding `needle` (waits up to 5 s for it to be read).
    pub fn stdout_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.stdout.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no stdout line has {needle:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash would; the data dir stays for a restart.
    pub fn kill9(&mut self) -> PathBuf {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        self.data.clone()
    }

    /// SIGTERM, then the exit status once the server has drained and stopped.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        sigterm_and_wait(&mut child, Duration::from_secs(60)).expect("fngate did not stop within 60 s of SIGTERM")
    }

    /// Runs the CLI against this server in `dir`, optionally feeding stdin; the whole output,
    /// whether it succeeded or not.
    pub fn cli(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = fngate()
            .args(args)
            .args(["--server", &self.admin(""), "--data-dir"])
            .arg(&self.data)
            .current_dir(dir)
            .env("PIP_CACHE_DIR", shared_dir("pip-cache"))
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

    /// The admin token `fngate up` keeps in the data dir.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data.join("admin-token"))
            .expect("fngate up writes <data>/admin-token")
            .trim()
            .to_string()
    }

    /// A client sending the admin token (`Authorization: Bearer`) on every request: for the
    /// control plane (admin API, Fn API, `/invoke`).
    pub fn http(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {}", self.admin_token());
        headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().unwrap());
        reqwest::Client::builder().default_headers(headers).build().unwrap()
    }

    /// `/invoke/{fn_id}` on the functions listener, called with the admin token.
    pub fn invoker(&self, fn_id: &str) -> Invoker {
        Invoker {
            url: self.functions(&format!("/invoke/{fn_id}")),
            token: self.admin_token(),
        }
    }

    pub async fn status(&self) -> serde_json::Value {
        self.http()
            .get(self.admin("/fngate/functions/status"))
            .send()
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

    /// Host pids of the function's live instances (inside its sandbox each is pid 1).
    pub async fn instance_pids(&self, app: &str, function: &str) -> Vec<i32> {
        self.fn_status(app, function).await["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap() as i32)
            .collect()
    }

    /// The server process's pid.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("server running").id() as i32
    }

    pub async fn fn_id(&self, app: &str, function: &str) -> String {
        self.fn_status(app, function).await["fn_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// SIGTERM, then the exit status, or `None` if the process still runs after `grace`.
fn sigterm_and_wait(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for Server {
    // A graceful stop, so that tests may check what shutdown cleans up.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take()
            && sigterm_and_wait(&mut child, Duration::from_secs(10)).is_none()
        {
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

/// A function's `/invoke` URL with the admin token: cheap to clone into spawned calls.
#[derive(Clone)]
pub struct Invoker {
    pub url: String,
    token: String,
}

impl Invoker {
    /// POSTs `body` with the admin token and optional headers.
    pub async fn post(&self, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let bearer = format!("Bearer {}", self.token);
        let mut all = vec![("authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        post(&self.url, body, &all).await
    }
}

/// POSTs `body` to `url` with optional headers.
pub async fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Host processes whose command line contains `needle`, with their real uid.
pub fn processes_with(needle: &str) -> Vec<(i32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains(needle) || !process_alive(pid) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse().ok())
            .unwrap_or(u32::MAX);
        found.push((pid, uid));
    }
    found
}

pub fn process_alive(pid: i32) -> bool {
    // A zombie counts as gone: it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}
