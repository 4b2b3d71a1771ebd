//! Load generator for bench/functions/run.sh (not part of the product).
//!
//! Measures, against a running `fngate up` with the generated Python hello-world deployed
//! (idle_timeout 1): cold start to first response, hot latency through `/invoke` versus the direct
//! unix-socket round trip to the same FDK process, throughput at 1/4/16 clients, and the FDK's own
//! time to socket-ready (and to first response) when started by hand. Prints one table.
//!
//! Usage: fdk_bench FUNCTIONS_URL ADMIN_URL DATA_DIR FDK_BIN FUNC_PY

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;

type Sender = SendRequest<Full<Bytes>>;

/// Hot calls per path, timed one by one.
const HOT_CALLS: usize = 2000;
/// Calls per path before switching to the other.
const HOT_BLOCK: usize = 200;

async fn tcp_sender(authority: &str) -> Sender {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to fngate");
    stream.set_nodelay(true).ok();
    let (sender, conn) = handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn unix_sender(path: &Path) -> Sender {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .expect("connect to the FDK socket");
    let (sender, conn) = handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

/// `Authorization: Bearer <admin token>` for fngate's control plane (`/invoke`, status); set once.
static AUTHORIZATION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn authorization() -> &'static str {
    AUTHORIZATION.get().map(String::as_str).unwrap_or_default()
}

/// One POST; returns the status after reading the whole body. Every call but the direct one
/// carries the admin token, so the bare hop sends the same request bytes as `/invoke`.
async fn call(sender: &mut Sender, uri: &str, host: &str, direct: bool) -> u16 {
    let mut request = Request::post(uri)
        .header("host", host)
        .header("content-type", "application/json");
    if !direct {
        request = request.header("authorization", authorization());
    }
    if direct {
        request = request
            .header("fn-call-id", "01BENCH0000000000000000000")
            .header("fn-deadline", "2099-01-01T00:00:00Z");
    }
    let request = request
        .body(Full::new(Bytes::from_static(b"{\"name\":\"bench\"}")))
        .unwrap();
    sender.ready().await.expect("connection ready");
    let response = sender.send_request(request).await.expect("request");
    let status = response.status().as_u16();
    response.into_body().collect().await.expect("body");
    status
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn get_json(url: &str) -> serde_json::Value {
    let (authority, path) = split(url);
    let mut sender = tcp_sender(&authority).await;
    let request = Request::get(path)
        .header("host", &authority)
        .header("authorization", authorization())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.expect("GET");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&body).expect("JSON")
}

fn split(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("http://");
    match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    }
}

/// Starts the FDK by hand and returns (time to socket-ready, time to first response).
async fn fdk_alone(fdk: &Path, func_py: &Path) -> (Duration, Duration) {
    let dir = tempfile::Builder::new().prefix("fb").tempdir_in("/tmp").unwrap();
    let socket = dir.path().join("lsnr.sock");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(fdk)
        .arg(func_py)
        .arg("handler")
        .env("FN_LISTENER", format!("unix:{}", socket.display()))
        .env("FN_FORMAT", "http-stream")
        .env("PYTHONPATH", func_py.parent().unwrap())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start fdk");
    while !std::fs::metadata(&socket).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())) {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let ready = started.elapsed();
    let mut sender = unix_sender(&socket).await;
    call(&mut sender, "/call", "localhost", true).await;
    let first = started.elapsed();
    child.kill().await.ok();
    (ready, first)
}

/// Runs a timed client loop on a thread of its own with a current-thread runtime, so the client's
/// connection tasks run on the thread that times the calls. (On the main thread of the
/// multi-threaded runtime every call also crossed between the client's own threads twice, which
/// on this VM cost more than either system under test and made the longer path look slower.)
fn on_client_thread<F, Fut, T>(client: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        runtime.block_on(client())
    })
    .join()
    .expect("client thread")
}

/// The live instance's FDK socket: inside its sandbox (`/proc/<pid>/root/tmp/iofs`, the pid from
/// the status endpoint), or in the run directory when fngate runs without mount namespaces.
async fn instance_socket(run_dir: &Path) -> PathBuf {
    let in_run_dir = std::fs::read_dir(run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("iofs/lsnr.sock"))
        .find(|p| p.exists());
    if let Some(socket) = in_run_dir {
        return socket;
    }
    let admin = ADMIN.get().expect("admin URL");
    let status = get_json(&format!("{admin}/fngate/functions/status")).await;
    let pid = status["items"][0]["pids"][0].as_i64().expect("one live instance");
    PathBuf::from(format!("/proc/{pid}/root/tmp/iofs/lsnr.sock"))
}

static ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Hot calls through `/invoke` and directly on the FDK socket, in alternating blocks (not
/// single calls) so one path's after-work (e.g. fngate writing the FDK's log line) does not land
/// inside the other path's measurement. Returns (through fngate, direct) latencies.
async fn hot_calls(authority: &str, invoke_uri: &str, run_dir: &Path) -> (Vec<Duration>, Vec<Duration>) {
    let mut via_fngate = tcp_sender(authority).await;
    for _ in 0..50 {
        call(&mut via_fngate, invoke_uri, authority, false).await;
    }
    let socket = instance_socket(run_dir).await;
    let mut direct = unix_sender(&socket).await;
    for _ in 0..50 {
        call(&mut direct, "/call", "localhost", true).await;
    }
    let (mut hot_invoke, mut hot_direct) = (Vec::with_capacity(HOT_CALLS), Vec::with_capacity(HOT_CALLS));
    for _ in 0..HOT_CALLS / HOT_BLOCK {
        for _ in 0..HOT_BLOCK {
            let started = Instant::now();
            call(&mut direct, "/call", "localhost", true).await;
            hot_direct.push(started.elapsed());
        }
        for _ in 0..HOT_BLOCK {
            let started = Instant::now();
            assert_eq!(call(&mut via_fngate, invoke_uri, authority, false).await, 200);
            hot_invoke.push(started.elapsed());
        }
    }
    (hot_invoke, hot_direct)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, functions, admin, data_dir, fdk, func_py] = args.as_slice() else {
        eprintln!("usage: fdk_bench FUNCTIONS_URL ADMIN_URL DATA_DIR FDK_BIN FUNC_PY");
        std::process::exit(2);
    };
    ADMIN.set(admin.clone()).ok();
    let token = std::fs::read_to_string(Path::new(data_dir).join("admin-token")).expect("<data-dir>/admin-token");
    let _ = AUTHORIZATION.set(format!("Bearer {}", token.trim()));
    let status = get_json(&format!("{admin}/fngate/functions/status")).await;
    let fn_id = status["items"][0]["fn_id"]
        .as_str()
        .expect("a deployed function")
        .to_string();
    let (authority, _) = split(functions);
    let invoke_uri = format!("/invoke/{fn_id}");
    let instances = || async {
        get_json(&format!("{admin}/fngate/functions/status")).await["items"][0]["instances"]
            .as_u64()
            .unwrap_or(0)
    };

    // Cold starts: wait for the idle instance to be reaped (idle_timeout 1), then call.
    let mut cold = Vec::new();
    let mut alone_ready = Vec::new();
    let mut alone_first = Vec::new();
    for _ in 0..5 {
        while instances().await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut sender = tcp_sender(&authority).await;
        let started = Instant::now();
        assert_eq!(call(&mut sender, &invoke_uri, &authority, false).await, 200);
        cold.push(started.elapsed());
        let (ready, first) = fdk_alone(Path::new(fdk), Path::new(func_py)).await;
        alone_ready.push(ready);
        alone_first.push(first);
    }
    for list in [&mut cold, &mut alone_ready, &mut alone_first] {
        list.sort();
    }

    // Hot: the same FDK process, through /invoke and directly on its socket, interleaved, timed by
    // one client thread (see `on_client_thread`).
    let run_dir = PathBuf::from(data_dir).join("functions/run");
    let (hot_authority, hot_uri) = (authority.clone(), invoke_uri.clone());
    let (mut hot_invoke, mut hot_direct) =
        on_client_thread(move || async move { hot_calls(&hot_authority, &hot_uri, &run_dir).await });

    // The extra hop alone: an HTTP/1.1 round trip on loopback TCP to a server that answers at
    // once (axum on this process's multi-threaded runtime, the client on its own thread).
    let hop_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hop_addr = hop_listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let app = axum::Router::new().route("/hop", axum::routing::post(|| async { "{\"message\":\"hop\"}" }));
        axum::serve(hop_listener, app).await.ok();
    });
    let mut hop_rtt = on_client_thread(move || async move {
        let mut hop = tcp_sender(&hop_addr).await;
        let mut hop_rtt = Vec::with_capacity(HOT_CALLS);
        for _ in 0..HOT_CALLS {
            let started = Instant::now();
            call(&mut hop, "/hop", &hop_addr, false).await;
            hop_rtt.push(started.elapsed());
        }
        hop_rtt
    });
    hop_rtt.sort();
    hot_invoke.sort();
    hot_direct.sort();

    // Throughput: N clients, each with its own keep-alive connection, for 3 s.
    let mut throughput = Vec::new();
    for clients in [1usize, 4, 16] {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let authority = authority.clone();
            let uri = invoke_uri.clone();
            tasks.push(tokio::spawn(async move {
                let mut sender = tcp_sender(&authority).await;
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    if call(&mut sender, &uri, &authority, false).await == 200 {
                        latencies.push(started.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (latencies, e) = task.await.unwrap();
            all.extend(latencies);
            errors += e;
        }
        all.sort();
        throughput.push((
            clients,
            all.len() as f64 / 3.0,
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            errors,
        ));
    }
    let live = instances().await;

    let p50_over = percentile(&hot_invoke, 0.5).saturating_sub(percentile(&hot_direct, 0.5));
    let cold_p50 = percentile(&cold, 0.5);
    let ready_p50 = percentile(&alone_ready, 0.5);
    let first_p50 = percentile(&alone_first, 0.5);
    println!();
    println!(
        "fngate functions benchmark (fdk-python hello-world, {HOT_CALLS} hot calls per path in blocks of {HOT_BLOCK}, 5 cold starts)"
    );
    println!("{:<48} {:>12} {:>12} {:>22}", "measure", "p50", "p99", "vs baseline");
    println!("{}", "-".repeat(98));
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "FDK alone: start to socket-ready (baseline)",
        ms(ready_p50),
        ms(percentile(&alone_ready, 0.99)),
        "1.00x"
    );
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "FDK alone: start to first response",
        ms(first_p50),
        ms(percentile(&alone_first, 0.99)),
        format!("{:.2}x socket-ready", first_p50.as_secs_f64() / ready_p50.as_secs_f64())
    );
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "fngate cold start to first response (/invoke)",
        ms(cold_p50),
        ms(percentile(&cold, 0.99)),
        format!("{:.2}x socket-ready", cold_p50.as_secs_f64() / ready_p50.as_secs_f64())
    );
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "direct unix-socket round trip (floor)",
        ms(percentile(&hot_direct, 0.5)),
        ms(percentile(&hot_direct, 0.99)),
        "1.00x"
    );
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "hot invoke through fngate /invoke",
        ms(percentile(&hot_invoke, 0.5)),
        ms(percentile(&hot_invoke, 0.99)),
        format!("+{:.0} us at p50", p50_over.as_secs_f64() * 1e6)
    );
    println!(
        "{:<48} {:>12} {:>12} {:>22}",
        "loopback TCP HTTP round trip alone (extra hop)",
        ms(percentile(&hop_rtt, 0.5)),
        ms(percentile(&hop_rtt, 0.99)),
        ""
    );
    for (clients, rps, p50, p99, errors) in &throughput {
        println!(
            "{:<48} {:>12} {:>12} {:>22}",
            format!("throughput, {clients} clients ({rps:.0} req/s, {errors} errors)"),
            ms(*p50),
            ms(*p99),
            ""
        );
    }
    println!("{}", "-".repeat(98));
    println!(
        "targets: hot overhead <= 100 us at p50: {} (+{:.0} us); cold start <= 1.5x FDK socket-ready: {} ({:.2}x)",
        if p50_over <= Duration::from_micros(100) {
            "MET"
        } else {
            "MISSED"
        },
        p50_over.as_secs_f64() * 1e6,
        if cold_p50.as_secs_f64() <= 1.5 * ready_p50.as_secs_f64() {
            "MET"
        } else {
            "MISSED"
        },
        cold_p50.as_secs_f64() / ready_p50.as_secs_f64()
    );
    println!("instances alive after the run: {live}");
}
