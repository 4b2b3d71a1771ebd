//! Issue #12 against a real `fngate up`: every listener (gateway, functions, IdP, admin, OCI) bounds its
//! connections. Short limits set by flags keep the test fast: body timeout 1 s, keep-alive 2 s,
//! 20 connections per listener, header timeout 1 s for the slow-client test and 3 s for the
//! floods (long enough to tell a connection refused at once from one closed by the timeout on a
//! busy machine).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER: Duration = Duration::from_secs(1);
const FLOOD_HEADER: Duration = Duration::from_secs(3);
/// A flood connection closed sooner than this was refused, not timed out.
const AT_ONCE: Duration = Duration::from_millis(1500);
const CAP: usize = 20;
const LISTENERS: [&str; 5] = ["gateway", "functions", "idp", "admin", "oci"];

/// The header timeout and the cap as flags; the body and keep-alive timeouts from a `--config`
/// file (both ways of setting them are in use).
fn start(header: Duration, nofile: Option<u64>, max_connections: Option<usize>) -> Server {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "body_read_timeout: 1\nkeep_alive_timeout: 2\n").unwrap();
    let mut args: Vec<String> = vec!["--header-read-timeout".into(), header.as_secs().to_string()];
    if let Some(n) = max_connections {
        args.extend(["--max-connections".to_string(), n.to_string()]);
    }
    args.extend(["--config".to_string(), config.path().display().to_string()]);
    // The config is read at start; the server is ready once `start_with` returns.
    Server::start_with(ServerOptions {
        args,
        nofile,
        ..ServerOptions::default()
    })
}

#[test]
fn a_limit_out_of_range_in_the_config_file_is_refused_with_the_file_and_key() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "header_read_timeout: 0\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = support::fngate()
        .args(["up", "--config"])
        .arg(config.path())
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "{}: header_read_timeout: 0 is not in 1..=3600",
            config.path().display()
        )),
        "{stderr}"
    );
    let flag = support::fngate()
        .args(["up", "--max-connections", "0", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!flag.status.success());
    assert!(String::from_utf8_lossy(&flag.stderr).contains("--max-connections"));
}

/// A function (registered, never called: the body is read first) and a deployment with a stock
/// route and a route to that function, through the admin API.
async fn set_up(server: &Server) {
    let client = server.http();
    let app = client
        .post(server.admin("/v2/apps"))
        .json(&json!({"name": "lim"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 200, "{}", app.text().await.unwrap());
    let app: serde_json::Value = app.json().await.unwrap();
    let function = client
        .post(server.admin("/v2/fns"))
        .json(&json!({"name": "f", "app_id": app["id"], "image": "lim/f:0.0.1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(function.status(), 200, "{}", function.text().await.unwrap());
    let spec = json!({"routes": [
        {"path": "/stock", "methods": ["GET"],
         "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "stock"}},
        {"path": "/fn", "methods": ["POST"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "lim/f"}}
    ]});
    let deployed = client
        .put(server.admin("/fngate/gateway/deployments/lim"))
        .json(&json!({"pathPrefix": "/lim", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(deployed.status().is_success(), "{}", deployed.text().await.unwrap());
}

fn addr(server: &Server, listener: &str) -> SocketAddr {
    let url = match listener {
        "gateway" => server.gateway(""),
        "functions" => server.functions(""),
        "idp" => server.idp(""),
        "oci" => server.oci(""),
        _ => server.admin(""),
    };
    url.trim_start_matches("http://").parse().unwrap()
}

/// A request each listener answers 200 at once.
fn probe_path(listener: &str) -> &'static str {
    match listener {
        "gateway" => "/lim/stock",
        "functions" => "/",
        "idp" => "/common/discovery/instance",
        // Unsigned: answered 401 NotAuthenticated at once (see `serves`).
        "oci" => "/20181201/applications",
        _ => "/healthz",
    }
}

/// A request whose body each listener reads before anything else.
fn body_path(listener: &str) -> &'static str {
    match listener {
        "gateway" => "/lim/fn",
        "functions" => "/invoke/01NOSUCHFN",
        "idp" => "/common/oauth2/v2.0/token",
        "oci" => "/20181201/applications",
        _ => "/v2/apps",
    }
}

/// One request on a new connection; whether it was answered within 2 s (200; the OCI listener's
/// unsigned probe 401).
async fn serves(server: &Server, listener: &str) -> bool {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("http://{}{}", addr(server, listener), probe_path(listener));
    let expected = if listener == "oci" { 401 } else { 200 };
    matches!(client.get(url).send().await, Ok(r) if r.status() == expected)
}

/// Reads until the server closes the connection (EOF or reset); when that happened, and what it sent.
async fn closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&all).into_owned()),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends a head one byte every 300 ms; how long until the server cut it off.
async fn slow_head(to: SocketAddr) -> Duration {
    let mut stream = TcpStream::connect(to).await.unwrap();
    let started = Instant::now();
    let head = b"GET / HTTP/1.1\r\nhost: x\r\nx-slow-header: one byte at a time\r\n\r\n";
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            return started.elapsed();
        }
        if closed(&mut stream, Duration::from_millis(300)).await.is_some() {
            return started.elapsed();
        }
    }
    panic!("{to}: a head sent over {:?} was read whole", started.elapsed());
}

/// A POST with the admin token (the control-plane listeners check it before reading a body) whose
/// body comes one byte every 1.5 s; (how long until cut off, what was answered).
async fn slow_body(to: SocketAddr, path: &str, token: &str) -> (Duration, String) {
    // The IdP's token endpoint takes a form; the control plane refuses anything but JSON up front.
    let content_type = if path.ends_with("/token") || path.starts_with("/lim") || path.starts_with("/invoke") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let mut stream = TcpStream::connect(to).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {to}\r\nauthorization: Bearer {token}\r\ncontent-type: {content_type}\r\ncontent-length: 100\r\n\r\na"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        if let Some(answer) = closed(&mut stream, Duration::from_millis(1500)).await {
            return (started.elapsed(), answer);
        }
        if stream.write_all(b"b").await.is_err() {
            return (started.elapsed(), String::new());
        }
    }
    panic!("{to}{path}: a body trickled for 30 s was still being read");
}

#[tokio::test]
async fn slow_heads_and_slow_bodies_are_cut_off_on_every_listener() {
    let server = start(HEADER, None, Some(CAP));
    set_up(&server).await;
    let token = server.admin_token();
    let heads = futures_util::future::join_all(LISTENERS.map(|l| slow_head(addr(&server, l)))).await;
    let bodies =
        futures_util::future::join_all(LISTENERS.map(|l| slow_body(addr(&server, l), body_path(l), &token))).await;
    for (listener, took) in LISTENERS.iter().zip(heads) {
        assert!(
            took >= HEADER - Duration::from_millis(100) && took < HEADER + Duration::from_millis(1200),
            "{listener}: a slow head was cut off after {took:?} (header timeout 1 s)"
        );
    }
    for (listener, (took, answer)) in LISTENERS.iter().zip(bodies) {
        // The first pause (1.5 s) is longer than the body timeout (1 s): cut off within it.
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{listener}: a stalled body was cut off after {took:?}: {answer}"
        );
        let status: u16 = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{listener}: no answer before the close: {answer:?}"));
        assert!((400..500).contains(&status), "{listener}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{listener}: {answer}"
        );
        if *listener == "gateway" {
            assert_eq!(status, 408, "the gateway answers a stalled body 408: {answer}");
            assert!(
                answer.contains(r#"{"code":408,"message":"Request Timeout"}"#),
                "{answer}"
            );
        }
    }
    for listener in LISTENERS {
        assert!(serves(&server, listener).await, "{listener} still serves");
    }
}

/// Opens `n` idle connections to `to`; each task reports when the server closed it.
async fn flood(to: SocketAddr, n: usize) -> Vec<tokio::task::JoinHandle<Option<Duration>>> {
    let mut held = Vec::new();
    for _ in 0..n {
        let Ok(mut stream) = TcpStream::connect(to).await else {
            continue;
        };
        held.push(tokio::spawn(async move {
            let started = Instant::now();
            closed(&mut stream, Duration::from_secs(10))
                .await
                .map(|_| started.elapsed())
        }));
    }
    held
}

/// How long until `listener` answers a request on a new connection, trying every 100 ms.
async fn serves_again_within(server: &Server, listener: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if serves(server, listener).await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{listener} served nothing for {limit:?} after the flood");
}

#[tokio::test]
async fn an_idle_flood_on_one_listener_is_shed_and_the_others_keep_serving() {
    let server = start(FLOOD_HEADER, None, Some(CAP));
    set_up(&server).await;
    for flooded in LISTENERS {
        let to = addr(&server, flooded);
        let held = flood(to, 10 * CAP).await;
        let flooded_at = Instant::now();
        // The promise: the others serve throughout; the flooded listener resets the excess at
        // once, closes the idle ones it holds after the header timeout, and then serves again.
        for other in LISTENERS.iter().filter(|l| **l != flooded) {
            assert!(serves(&server, other).await, "{other} while {flooded} is flooded");
        }
        let back = serves_again_within(&server, flooded, FLOOD_HEADER + Duration::from_secs(2)).await;
        let closes: Vec<Duration> = futures_util::future::join_all(held)
            .await
            .into_iter()
            .map(|closed| closed.unwrap().expect("every flood connection is closed by the server"))
            .collect();
        let at_once = closes.iter().filter(|t| **t < AT_ONCE).count();
        let after_timeout = closes
            .iter()
            .filter(|t| **t >= FLOOD_HEADER - Duration::from_millis(100) && **t < FLOOD_HEADER + Duration::from_secs(2))
            .count();
        assert!(
            at_once >= closes.len() - CAP,
            "{flooded}: {at_once} of {} refused at once",
            closes.len()
        );
        assert!(
            after_timeout <= CAP,
            "{flooded}: held at most the cap ({after_timeout})"
        );
        assert_eq!(at_once + after_timeout, closes.len(), "{flooded}: {closes:?}");
        eprintln!(
            "{flooded}: flood shed; served again after {back:?} ({:?} after the flood)",
            flooded_at.elapsed()
        );
    }
    let refusal_lines = server
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("connection limit reached"))
        .count();
    assert!(
        (1..=LISTENERS.len()).contains(&refusal_lines),
        "one rate-limited line per flooded listener, not one per refusal: {refusal_lines}"
    );
}

/// Lines of the server log about failed or refused accepts.
fn accept_lines(server: &Server) -> (usize, usize) {
    let lines = server.stderr_lines();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    (
        count("accept failed") + count("out of file descriptors"),
        count("connection limit reached"),
    )
}

#[tokio::test]
async fn with_few_file_descriptors_a_flood_on_one_listener_leaves_the_others_serving() {
    // Default caps: a tenth of the fd limit each (25 here), so a flood cannot use up the fds.
    let server = start(FLOOD_HEADER, Some(256), None);
    set_up(&server).await;
    let held = flood(addr(&server, "gateway"), 400).await;
    for other in ["functions", "idp", "admin"] {
        assert!(serves(&server, other).await, "{other} while the gateway is flooded");
    }
    serves_again_within(&server, "gateway", FLOOD_HEADER + Duration::from_secs(2)).await;
    for closed in futures_util::future::join_all(held).await {
        assert!(closed.unwrap().is_some(), "the server closed every flood connection");
    }
    let (fd_errors, refusals) = accept_lines(&server);
    assert_eq!(fd_errors, 0, "the caps kept the fds from running out");
    assert_eq!(refusals, 1, "one line for 368 refusals");
}

#[tokio::test]
async fn out_of_file_descriptors_clients_are_closed_at_once_and_the_log_stays_short() {
    // A cap above what the fd limit allows (warned at start): the flood runs the process out of
    // descriptors. Clients are then closed at once instead of waiting in the backlog, the log
    // says so once per listener per 10 s, and everything serves once the idle flood times out.
    let server = start(FLOOD_HEADER, Some(256), Some(1000));
    set_up(&server).await;
    assert!(
        server
            .stderr_lines()
            .iter()
            .any(|l| l.contains("can use up the file-descriptor limit")),
        "the start warns about the cap"
    );
    let held = flood(addr(&server, "gateway"), 400).await;
    let closes: Vec<Duration> = futures_util::future::join_all(held)
        .await
        .into_iter()
        .map(|closed| closed.unwrap().expect("every flood connection is closed by the server"))
        .collect();
    let at_once = closes.iter().filter(|t| **t < AT_ONCE).count();
    assert!(
        at_once >= 100,
        "{at_once} of {} shed at once while out of fds",
        closes.len()
    );
    for listener in LISTENERS {
        serves_again_within(&server, listener, FLOOD_HEADER + Duration::from_secs(2)).await;
    }
    let (fd_errors, _) = accept_lines(&server);
    assert!(
        (1..=LISTENERS.len()).contains(&fd_errors),
        "at most one line per listener, not one per failed accept: {fd_errors}"
    );
}
