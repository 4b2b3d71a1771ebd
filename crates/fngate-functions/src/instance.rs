//! One hot function process: spawned in its own process group with a fresh socket directory,
//! ready when the FDK's `lsnr.sock` appears, then called over one keep-alive HTTP/1.1 connection
//! on the unix socket, one call at a time (`fn:api/agent/agent.go`).

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fngate_http::{InlinePoll, strip_hop_by_hop};
use fngate_invoke::InvokeError;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::OwnedSemaphorePermit;

use crate::fdk_stream::FdkStream;
use crate::logs::LogSink;

/// FDK socket name (`udsFilename` in Fn).
pub const SOCKET_NAME: &str = "lsnr.sock";
const FN_CALL_ID: HeaderName = HeaderName::from_static("fn-call-id");
const FN_DEADLINE: HeaderName = HeaderName::from_static("fn-deadline");
/// Longest unix socket path (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Everything needed to start instances of one function version.
#[derive(Debug)]
pub struct InstanceSpec {
    pub fn_id: String,
    pub fn_name: String,
    pub app_name: String,
    /// Program and arguments, already mapped onto the host.
    pub command: Vec<String>,
    pub cwd: PathBuf,
    /// Environment: merged app+fn config, then the FN_* variables (without FN_LISTENER).
    pub env: Vec<(String, String)>,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub idle_timeout: Duration,
    pub init_timeout: Duration,
    /// Parent of the per-instance socket directories.
    pub run_dir: PathBuf,
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Connection<TokioIo<FdkStream>, Full<Bytes>>,
    /// Both halves are polled in the calling task; this keeps their wakes of each other inline.
    inline: InlinePoll,
}

/// Reconnect before a call after this long idle, well inside fdk-python's 75 s keep-alive, so an
/// FDK-side close never turns into a spurious 502 (fn#1470).
const MAX_CONN_IDLE: Duration = Duration::from_secs(30);

/// What the FDK answered with 200.
pub struct CallOutput {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A failed call and whether the instance must be discarded.
pub struct CallFailure {
    pub error: InvokeError,
    pub kill: bool,
}

pub struct Instance {
    child: Child,
    pgid: Pid,
    sock_dir: PathBuf,
    /// The keep-alive connection; its driver is polled by the call itself (no extra task hop).
    conn: Option<Conn>,
    current_call: Arc<std::sync::Mutex<String>>,
    /// `Fn-Deadline` has whole seconds: the last value (unix seconds, header) is reused within one.
    deadline: Option<(u64, HeaderValue)>,
    pub last_used: Instant,
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Instance {
    /// Starts a process and waits for its socket, within the init timeout.
    pub async fn start(
        spec: &InstanceSpec,
        logs: &Arc<LogSink>,
        permits: Vec<OwnedSemaphorePermit>,
    ) -> Result<Instance, InvokeError> {
        let sock_dir = make_socket_dir(&spec.run_dir).map_err(|err| {
            tracing::error!(fn_id = %spec.fn_id, error = %err, "cannot create the instance socket directory");
            InvokeError::InitFailed
        })?;
        let socket = sock_dir.join(SOCKET_NAME);
        let Some((program, args)) = spec.command.split_first() else {
            return Err(InvokeError::InitFailed);
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .current_dir(&spec.cwd)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env("FN_LISTENER", format!("unix:{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so the whole tree is killed together.
            .process_group(0);
        let data_limit = spec.memory_mb.saturating_mul(1024 * 1024);
        // SAFETY: only async-signal-safe syscalls (setrlimit, prctl) run between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // RLIMIT_DATA, not RLIMIT_AS: V8 reserves GBs of address space up front and dies
                // under RLIMIT_AS, while RLIMIT_DATA bounds the heap and private writable mappings.
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_DATA, data_limit, data_limit)
                    .map_err(std::io::Error::from)?;
                // If fngate dies (even kill -9), the kernel kills the instance too.
                nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                logs.write(&spec.fn_id, "-", "fngate", &format!("cannot start {program}: {err}"));
                let _ = std::fs::remove_dir_all(&sock_dir);
                return Err(InvokeError::InitFailed);
            }
        };
        let pgid = Pid::from_raw(child.id().unwrap_or_default() as i32);
        let current_call = Arc::new(std::sync::Mutex::new("-".to_string()));
        if let Some(out) = child.stdout.take() {
            spawn_log_reader(
                out.into_owned_fd(),
                "stdout",
                spec.fn_id.clone(),
                current_call.clone(),
                logs.clone(),
            );
        }
        if let Some(err) = child.stderr.take() {
            spawn_log_reader(
                err.into_owned_fd(),
                "stderr",
                spec.fn_id.clone(),
                current_call.clone(),
                logs.clone(),
            );
        }
        let mut instance = Instance {
            child,
            pgid,
            sock_dir,
            conn: None,
            current_call,
            deadline: None,
            last_used: Instant::now(),
            _permits: permits,
        };
        let started = Instant::now();
        loop {
            match check_socket(&socket) {
                Ok(true) => break,
                Ok(false) => {}
                Err(message) => {
                    logs.write(&spec.fn_id, "-", "fngate", &message);
                    return Err(InvokeError::InitFailed);
                }
            }
            if let Ok(Some(status)) = instance.child.try_wait() {
                logs.write(
                    &spec.fn_id,
                    "-",
                    "fngate",
                    &format!("function process exited before it was ready: {status}"),
                );
                return Err(InvokeError::InitFailed);
            }
            if started.elapsed() >= spec.init_timeout {
                logs.write(
                    &spec.fn_id,
                    "-",
                    "fngate",
                    "function did not create its socket within the init timeout",
                );
                return Err(InvokeError::InitTimedOut);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tracing::debug!(fn_id = %spec.fn_id, pid = pgid.as_raw(), ready_ms = started.elapsed().as_secs_f64() * 1e3, "instance ready");
        instance.connect().await.map_err(|err| {
            logs.write(
                &spec.fn_id,
                "-",
                "fngate",
                &format!("cannot connect to the function socket: {err}"),
            );
            InvokeError::InitFailed
        })?;
        Ok(instance)
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        self.conn = None;
        let stream = FdkStream::connect(&self.sock_dir.join(SOCKET_NAME)).await?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        self.conn = Some(Conn {
            sender,
            driver,
            inline: InlinePoll::default(),
        });
        Ok(())
    }

    /// Whether the kept connection is still usable: lets its driver see a pending EOF first.
    fn conn_usable(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else { return false };
        if self.last_used.elapsed() > MAX_CONN_IDLE || conn.sender.is_closed() {
            return false;
        }
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        std::pin::Pin::new(&mut conn.driver).poll(&mut cx).is_pending()
    }

    /// Whether the process is still running (checked before reusing an idle instance).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `POST /call` with Fn's headers; applies Fn's 200/502/504 rules and the function timeout.
    pub async fn call(
        &mut self,
        call_id: &str,
        mut headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<CallOutput, CallFailure> {
        let kill = |error| CallFailure { error, kill: true };
        if let Ok(mut current) = self.current_call.lock() {
            // Reuses the buffer: call ids all have the same length.
            current.clear();
            current.push_str(call_id);
        }
        if !self.conn_usable() && self.connect().await.is_err() {
            return Err(kill(InvokeError::ReceiveFailed));
        }
        // The caller's headers are moved into the request (not copied), minus hop-by-hop ones.
        strip_hop_by_hop(&mut headers);
        headers.remove(CONTENT_LENGTH);
        headers.insert(HOST, HeaderValue::from_static("localhost"));
        headers.insert(
            FN_CALL_ID,
            HeaderValue::from_str(call_id).map_err(|_| kill(InvokeError::ReceiveFailed))?,
        );
        if let Some(deadline) = self.deadline_header(timeout) {
            headers.insert(FN_DEADLINE, deadline);
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = Uri::from_static("/call");
        *request.headers_mut() = headers;
        let Some(Conn { sender, driver, inline }) = self.conn.as_mut() else {
            return Err(kill(InvokeError::ReceiveFailed));
        };
        let mut driver_done = false;
        let exchange = async {
            let work = async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await?.to_bytes();
                Ok::<_, hyper::Error>((parts, body))
            };
            tokio::pin!(work);
            tokio::select! {
                // The request is queued before the driver is polled to write it.
                biased;
                result = &mut work => result,
                _ = driver => {
                    // The connection ended; what it delivered is still readable.
                    driver_done = true;
                    work.await
                }
            }
        };
        let result = tokio::time::timeout(timeout, inline.run(exchange)).await;
        if driver_done {
            self.conn = None;
        }
        self.last_used = Instant::now();
        let (parts, body) = match result {
            Err(_) => return Err(kill(InvokeError::TimedOut)),
            Ok(Err(_)) => return Err(kill(InvokeError::ReceiveFailed)),
            Ok(Ok(answer)) => answer,
        };
        match parts.status {
            StatusCode::OK => {
                let mut headers = parts.headers;
                strip_hop_by_hop(&mut headers);
                headers.remove(CONTENT_LENGTH);
                Ok(CallOutput { headers, body })
            }
            StatusCode::BAD_GATEWAY => Err(CallFailure {
                error: InvokeError::FunctionFailed,
                kill: false,
            }),
            StatusCode::GATEWAY_TIMEOUT => Err(CallFailure {
                error: InvokeError::TimedOut,
                kill: false,
            }),
            _ => Err(kill(InvokeError::InvalidResponse)),
        }
    }

    /// `Fn-Deadline`: now + timeout, RFC 3339 in whole seconds (UTC), formatted once per second.
    fn deadline_header(&mut self, timeout: Duration) -> Option<HeaderValue> {
        let since_epoch = (std::time::SystemTime::now() + timeout)
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        let seconds = since_epoch.as_secs();
        if let Some((cached, value)) = &self.deadline
            && *cached == seconds
        {
            return Some(value.clone());
        }
        let value = deadline_value(seconds)?;
        self.deadline = Some((seconds, value.clone()));
        Some(value)
    }

    /// Kills the process group and reaps the child.
    pub async fn stop(mut self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
        let _ = self.child.wait().await;
    }

    pub fn pid(&self) -> i32 {
        self.pgid.as_raw()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The group, not just the child: FDKs may fork. Tokio reaps the child (kill_on_drop).
        if self.pgid.as_raw() > 0 {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.sock_dir);
    }
}

/// RFC 3339 in UTC, whole seconds (`2026-11-26T10:00:00Z`), as Fn sends `Fn-Deadline`.
fn deadline_value(unix_seconds: u64) -> Option<HeaderValue> {
    let text = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix_seconds).ok()?)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    HeaderValue::from_str(&text).ok()
}

/// A fresh, private directory for one instance's socket; short enough for `sun_path`.
fn make_socket_dir(run_dir: &Path) -> std::io::Result<PathBuf> {
    let name = format!("i{:016x}", rand::random::<u64>());
    let mut base = run_dir.to_path_buf();
    if base.join(&name).join("phony").join(SOCKET_NAME).as_os_str().len() > MAX_SOCKET_PATH {
        base = std::env::temp_dir().join(format!("fngate-{}", nix::unistd::getuid()));
    }
    std::fs::create_dir_all(&base)?;
    let dir = base.join(name);
    std::fs::create_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Fn's readiness check (`checkSocketDestination`): `lsnr.sock` is a socket, or a relative
/// symlink within the directory to one. `Ok(false)` = not there yet.
fn check_socket(socket: &Path) -> Result<bool, String> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(format!("cannot inspect {}: {err}", socket.display())),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(socket).map_err(|err| format!("cannot read symlink: {err}"))?;
        if target.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
            return Err(
                "invalid unix socket symlink, symlinks must be relative within the unix socket directory".into(),
            );
        }
    }
    match std::fs::metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => Ok(true),
        Ok(_) => Err("listener file is not a socket".into()),
        // A symlink whose socket is not bound yet.
        Err(_) => Ok(false),
    }
}

/// FDK output is read on a thread of its own (a one-thread runtime), not on the shared runtime:
/// the FDK writes its log line just before its answer, so the reader task and the call were woken
/// by the same I/O batch; the reader then took the worker's LIFO slot, pushing the call to the
/// run queue, and tokio woke the other worker (futex), which took the call over (strace: one such
/// hand-off on every call's answer path). `None` if the thread cannot start (then the shared
/// runtime reads, as before).
fn log_runtime() -> Option<&'static tokio::runtime::Handle> {
    static HANDLE: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("fngate-fn-logs".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

fn spawn_log_reader(
    pipe: std::io::Result<std::os::fd::OwnedFd>,
    name: &'static str,
    fn_id: String,
    current_call: Arc<std::sync::Mutex<String>>,
    logs: Arc<LogSink>,
) {
    let reader = async move {
        // Registered with the runtime that reads it.
        let Ok(pipe) = pipe.and_then(tokio::net::unix::pipe::Receiver::from_owned_fd) else {
            logs.write(&fn_id, "-", "fngate", &format!("cannot read the function's {name}"));
            return;
        };
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let call = current_call.lock().map(|c| c.clone()).unwrap_or_default();
            logs.write(&fn_id, &call, name, &line);
        }
    };
    match log_runtime() {
        Some(handle) => handle.spawn(reader),
        None => tokio::spawn(reader),
    };
}

/// Removes socket directories left by a previous server that was killed.
pub fn clean_run_dir(run_dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(run_dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_accepts_only_same_dir_symlinks_to_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join(SOCKET_NAME);
        assert_eq!(check_socket(&socket), Ok(false), "not there yet");

        let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("phonylsnr.sock")).unwrap();
        std::os::unix::fs::symlink("phonylsnr.sock", &socket).unwrap();
        assert_eq!(check_socket(&socket), Ok(true));

        std::fs::remove_file(&socket).unwrap();
        std::os::unix::fs::symlink(dir.path().join("phonylsnr.sock"), &socket).unwrap();
        assert!(check_socket(&socket).unwrap_err().contains("symlinks must be relative"));

        std::fs::remove_file(&socket).unwrap();
        std::fs::write(&socket, "").unwrap();
        assert_eq!(check_socket(&socket), Err("listener file is not a socket".into()));
    }

    #[test]
    fn deadline_is_rfc3339_utc_in_whole_seconds() {
        assert_eq!(deadline_value(1_795_687_200).unwrap(), "2026-11-26T10:00:00Z");
        assert_eq!(deadline_value(0).unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn socket_dirs_are_fresh_private_and_short() {
        let long = tempfile::tempdir().unwrap();
        let deep = long.path().join("x".repeat(100));
        let dir = make_socket_dir(&deep).unwrap();
        assert!(dir.join(SOCKET_NAME).as_os_str().len() <= MAX_SOCKET_PATH);
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_ne!(make_socket_dir(&deep).unwrap(), dir);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
