//! One hot function process: started in the function sandbox ([`crate::sandbox`]), ready when
//! the FDK's `lsnr.sock` appears, then called over one keep-alive HTTP/1.1 connection on the unix
//! socket, one call at a time (`fn:api/agent/agent.go`).

use std::future::Future;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fngate_http::{HopByHop, InlinePoll, strip_hop_by_hop};
use fngate_invoke::InvokeError;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::OwnedSemaphorePermit;

use crate::fdk_stream::FdkStream;
use crate::lang::Lang;
use crate::logs::LogSink;
use crate::sandbox::{Child, InstanceRequest, Layout, Sandbox};

/// FDK socket name (`udsFilename` in Fn).
pub const SOCKET_NAME: &str = "lsnr.sock";
const FN_CALL_ID: HeaderName = HeaderName::from_static("fn-call-id");
const FN_DEADLINE: HeaderName = HeaderName::from_static("fn-deadline");

/// Everything needed to start instances of one function version.
#[derive(Debug)]
pub struct InstanceSpec {
    pub fn_id: String,
    pub fn_name: String,
    pub app_name: String,
    pub lang: Lang,
    pub layout: Layout,
    /// Program and arguments as the function sees its files (see [`Layout`]).
    pub command: Vec<String>,
    pub code_dir: PathBuf,
    pub env_dir: PathBuf,
    pub runtime_dirs: Vec<PathBuf>,
    /// Environment: language variables, merged app+fn config, then the FN_* variables (the
    /// sandbox adds PATH, HOME, TMPDIR and FN_LISTENER).
    pub env: Vec<(String, String)>,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub idle_timeout: Duration,
    pub init_timeout: Duration,
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

/// Host pids of a pool's live instances; each instance removes itself when dropped.
#[derive(Debug, Default, Clone)]
pub struct LivePids(Arc<std::sync::Mutex<std::collections::BTreeSet<i32>>>);

impl LivePids {
    pub fn list(&self) -> Vec<i32> {
        self.0
            .lock()
            .map(|pids| pids.iter().copied().collect())
            .unwrap_or_default()
    }

    fn insert(&self, pid: i32) {
        if let Ok(mut pids) = self.0.lock() {
            pids.insert(pid);
        }
    }

    fn remove(&self, pid: i32) {
        if let Ok(mut pids) = self.0.lock() {
            pids.remove(&pid);
        }
    }
}

pub struct Instance {
    child: Child,
    live: LivePids,
    /// Where the FDK's socket is, as fngate reaches it (inside the sandbox: `/proc/<pid>/root`).
    sock_dir: PathBuf,
    instance_dir: PathBuf,
    /// The keep-alive connection; its driver is polled by the call itself (no extra task hop).
    conn: Option<Conn>,
    current_call: Arc<std::sync::Mutex<String>>,
    /// `Fn-Deadline` has whole seconds: the last value (unix seconds, header) is reused within one.
    deadline: Option<(u64, HeaderValue)>,
    pub last_used: Instant,
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Instance {
    /// Starts a sandboxed process and waits for its socket, within the init timeout.
    pub async fn start(
        spec: &InstanceSpec,
        sandbox: &Sandbox,
        logs: &Arc<LogSink>,
        live: &LivePids,
        permits: Vec<OwnedSemaphorePermit>,
    ) -> Result<Instance, InvokeError> {
        let request = InstanceRequest {
            fn_id: &spec.fn_id,
            lang: spec.lang,
            layout: spec.layout,
            command: &spec.command,
            code_dir: &spec.code_dir,
            env_dir: &spec.env_dir,
            runtime_dirs: &spec.runtime_dirs,
            env: &spec.env,
            memory_mb: spec.memory_mb,
        };
        let spawning = Instant::now();
        let started = match sandbox.spawn_instance(&request) {
            Ok(started) => started,
            Err(err) => {
                let program = spec.command.first().map(String::as_str).unwrap_or_default();
                logs.write(&spec.fn_id, "-", "fngate", &format!("cannot start {program}: {err}"));
                tracing::error!(fn_id = %spec.fn_id, error = %err, "cannot start a function instance");
                return Err(InvokeError::InitFailed);
            }
        };
        let spawn_ms = spawning.elapsed().as_secs_f64() * 1e3;
        let socket = started.socket_dir.join(SOCKET_NAME);
        let current_call = Arc::new(std::sync::Mutex::new("-".to_string()));
        spawn_log_reader(
            Ok(started.stdout),
            "stdout",
            spec.fn_id.clone(),
            current_call.clone(),
            logs.clone(),
        );
        spawn_log_reader(
            Ok(started.stderr),
            "stderr",
            spec.fn_id.clone(),
            current_call.clone(),
            logs.clone(),
        );
        live.insert(started.child.pid().as_raw());
        let mut instance = Instance {
            live: live.clone(),
            child: started.child,
            sock_dir: started.socket_dir,
            instance_dir: started.instance_dir,
            conn: None,
            current_call,
            deadline: None,
            last_used: Instant::now(),
            _permits: permits,
        };
        let begun = Instant::now();
        loop {
            match check_socket(&socket) {
                Ok(true) => break,
                Ok(false) => {}
                Err(message) => {
                    logs.write(&spec.fn_id, "-", "fngate", &message);
                    return Err(InvokeError::InitFailed);
                }
            }
            if let Some(status) = instance.child.try_wait() {
                logs.write(
                    &spec.fn_id,
                    "-",
                    "fngate",
                    &format!("function process exited before it was ready: {}", describe(status)),
                );
                return Err(InvokeError::InitFailed);
            }
            if begun.elapsed() >= spec.init_timeout {
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
        tracing::debug!(fn_id = %spec.fn_id, pid = instance.pid(), spawn_ms, ready_ms = begun.elapsed().as_secs_f64() * 1e3, "instance ready");
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
        // Through a descriptor of the socket itself: the function owns the directory and could
        // swap `lsnr.sock` for a symlink to any socket of the host after the readiness check.
        let socket = open_socket(&self.sock_dir)?;
        let stream = FdkStream::connect(Path::new(&format!("/proc/self/fd/{}", socket.as_raw_fd()))).await?;
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
        self.child.is_alive()
    }

    /// Why the instance went away, when a limit stopped it (for the function's log).
    pub fn exit_reason(&mut self, memory_mb: u64) -> Option<String> {
        if self.child.oom_killed() {
            return Some(format!("over its memory limit ({memory_mb} MB): killed"));
        }
        self.child.try_wait().map(describe)
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
        strip_hop_by_hop(&mut headers, HopByHop::Fixed);
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
                strip_hop_by_hop(&mut headers, HopByHop::Fixed);
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

    /// Kills the process (and with it the instance's whole process tree) and reaps it.
    pub async fn stop(mut self) {
        self.child.kill();
        let _ = self.child.wait().await;
    }

    /// The instance's pid as the host sees it.
    pub fn pid(&self) -> i32 {
        self.child.pid().as_raw()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Dropping the child kills its tree and reaps it on the reaper thread.
        self.child.kill();
        self.live.remove(self.pid());
        let _ = std::fs::remove_dir_all(&self.instance_dir);
    }
}

fn describe(status: nix::sys::wait::WaitStatus) -> String {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}

/// An `O_PATH` descriptor of the listening socket in `dir`: `lsnr.sock` itself, or the
/// same-directory file its symlink names, never following anything else.
fn open_socket(dir: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let dir_fd = nix::fcntl::open(dir, flags | OFlag::O_DIRECTORY, Mode::empty())?;
    let mut name = std::ffi::OsString::from(SOCKET_NAME);
    for _ in 0..2 {
        let fd = openat(&dir_fd, name.as_os_str(), flags | OFlag::O_NOFOLLOW, Mode::empty())?;
        let meta = nix::sys::stat::fstat(&fd)?;
        match meta.st_mode & libc::S_IFMT {
            libc::S_IFSOCK => return Ok(fd),
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(&dir_fd, name.as_os_str())?;
                if target.as_bytes().contains(&b'/') || target.is_empty() {
                    return Err(std::io::Error::other("the socket symlink leaves its directory"));
                }
                name = target;
            }
            _ => return Err(std::io::Error::other("the listener file is not a socket")),
        }
    }
    Err(std::io::Error::other("the socket symlink points to another symlink"))
}

/// RFC 3339 in UTC, whole seconds (`2026-11-26T10:00:00Z`), as Fn sends `Fn-Deadline`.
fn deadline_value(unix_seconds: u64) -> Option<HeaderValue> {
    let text = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix_seconds).ok()?)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    HeaderValue::from_str(&text).ok()
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
}
