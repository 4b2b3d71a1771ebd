//! `HTTP_BACKEND` upstream connections over real sockets: kept alive and reused, a connection the
//! backend closed while idle is replaced without failing the request, large and streamed bodies
//! pass whole in both directions, and a response abandoned half-way does not poison the pool.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestGateway, client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend speaking HTTP/1.1 by hand so the test controls the connection:
/// `/close-after` answers and then closes the socket without saying so (as a backend whose
/// keep-alive timeout expires does); `/then-drop` answers and then reads the next request on the
/// connection and closes it without an answer (a close racing with a request); `/big` streams a 1 MiB chunked body;
/// `/stall` sends a tenth of its body and then nothing; anything else answers
/// `conn=<n> path=<path> body=<bytes received>`.
struct RawBackend {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RawBackend {
    async fn start() -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(serve_connection(stream, n));
            }
        });
        RawBackend {
            addr,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(mut stream: TcpStream, n: usize) {
    let mut buffered: Vec<u8> = Vec::new();
    let mut drop_next = false;
    loop {
        let head_end = loop {
            if let Some(i) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffered.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&buffered[..head_end]).to_string();
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        assert!(
            !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
            "known-length bodies are sent with Content-Length"
        );
        while buffered.len() < head_end + length {
            let mut chunk = [0u8; 65536];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffered.extend_from_slice(&chunk[..read]),
            }
        }
        buffered.drain(..head_end + length);
        if drop_next {
            return;
        }
        drop_next = path == "/then-drop";
        if path == "/stall" {
            // Promises 100 bytes, sends 10, then holds the connection without a word.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        if path == "/big" {
            let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for i in 0..16u8 {
                let chunk = vec![b'a' + i; 65536];
                response.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                response.extend_from_slice(&chunk);
                response.extend_from_slice(b"\r\n");
            }
            response.extend_from_slice(b"0\r\n\r\n");
            if stream.write_all(&response).await.is_err() {
                return;
            }
            continue;
        }
        let body = format!("conn={n} path={path} body={length}");
        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        if path == "/close-after" {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

async fn gateway_for(backend: &RawBackend) -> TestGateway {
    let gw = TestGateway::start().await;
    gw.deploy(
        "pool",
        "/p",
        json!({"routes": [{"path": "/{rest*}", "methods": ["ANY"],
            "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/${{request.path[rest]}}", backend.addr)}}]}),
    )
    .await;
    gw
}

#[tokio::test]
async fn sequential_requests_share_one_kept_alive_connection() {
    let backend = RawBackend::start().await;
    let gw = gateway_for(&backend).await;
    let c = client();
    for i in 0..20 {
        let r = c.get(gw.url(&format!("/p/item/{i}"))).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), format!("conn=1 path=/item/{i} body=0"));
    }
    assert_eq!(backend.connections(), 1, "one upstream connection, reused");
    gw.stop().await;
}

#[tokio::test]
async fn a_connection_the_backend_closed_while_idle_is_replaced_without_an_error() {
    let backend = RawBackend::start().await;
    let gw = gateway_for(&backend).await;
    let c = client();
    for i in 1..=5 {
        let r = c.get(gw.url("/p/close-after")).send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(r.text().await.unwrap(), format!("conn={i} path=/close-after body=0"));
        // Let the close reach the gateway's idle connection, as a keep-alive timeout would.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(backend.connections(), 5);
    // Closed at once, with no pause: the next request may find the stale connection first.
    for _ in 0..5 {
        let r = c.get(gw.url("/p/close-after")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_bodiless_idempotent_request_lost_on_a_kept_connection_is_sent_again_and_a_post_is_not() {
    let backend = RawBackend::start().await;
    let gw = gateway_for(&backend).await;
    let c = client();
    let r = c.get(gw.url("/p/then-drop")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "conn=1 path=/then-drop body=0");
    let r = c.get(gw.url("/p/again")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the GET lost on connection 1 is answered on a new one");
    assert_eq!(r.text().await.unwrap(), "conn=2 path=/again body=0");

    let r = c.get(gw.url("/p/then-drop")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "conn=2 path=/then-drop body=0");
    let r = c.post(gw.url("/p/write")).body("abc").send().await.unwrap();
    assert_eq!(r.status(), 502, "a request with a body is never sent twice");
    assert_eq!(backend.connections(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn large_bodies_pass_whole_both_ways_and_the_connection_is_reused() {
    let backend = RawBackend::start().await;
    let gw = gateway_for(&backend).await;
    let c = client();
    for _ in 0..3 {
        let r = c.get(gw.url("/p/big")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), 16 * 65536);
        assert!(
            body.chunks(65536)
                .enumerate()
                .all(|(i, chunk)| chunk.iter().all(|&b| b == b'a' + i as u8))
        );
    }
    let upload = vec![b'x'; 3 * 1024 * 1024];
    let r = c.post(gw.url("/p/upload")).body(upload).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "conn=1 path=/upload body=3145728");
    assert_eq!(backend.connections(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn a_response_abandoned_half_way_does_not_poison_the_pool() {
    let backend = RawBackend::start().await;
    let gw = gateway_for(&backend).await;
    // Read only the start of the 1 MiB body, then hang up.
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(b"GET /p/big HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut start = [0u8; 1024];
    let read = raw.read(&mut start).await.unwrap();
    assert!(String::from_utf8_lossy(&start[..read]).starts_with("HTTP/1.1 200"));
    drop(raw);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let c = client();
    for _ in 0..3 {
        let r = c.get(gw.url("/p/after")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.ends_with("path=/after body=0"), "{text}");
        assert!(
            !text.starts_with("conn=1 "),
            "the abandoned connection is not reused: {text}"
        );
    }
    gw.stop().await;
}

/// A backend that never completes a connection: its accept queue (backlog 0) is filled by
/// connections nobody accepts, so the kernel drops further SYNs and `connect` just waits.
async fn unanswering_backend() -> (SocketAddr, Vec<TcpStream>, tokio::net::TcpListener) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    // Connect until one hangs: from then on the queue is full.
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    (addr, fillers, listener)
}

#[tokio::test]
async fn connect_timeout_is_its_own_limit_and_answers_504() {
    let (addr, _fillers, _listener) = unanswering_backend().await;
    let gw = TestGateway::start().await;
    // connect 1 s; send + read 60 s: the connect limit must end it, not the other two.
    gw.deploy(
        "slowconnect",
        "/v1",
        json!({"routes": [{"path": "/x", "backend": {"type": "HTTP_BACKEND", "url": format!("http://{addr}/"),
            "connectTimeoutInSeconds": 1, "readTimeoutInSeconds": 30, "sendTimeoutInSeconds": 30}}]}),
    )
    .await;
    let started = std::time::Instant::now();
    let response = client().get(gw.url("/v1/x")).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(10),
        "answered after {elapsed:?}"
    );
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["code"], 504);
    gw.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_cut_off_after_the_read_timeout() {
    let backend = RawBackend::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "stall",
        "/s",
        json!({"routes": [{"path": "/{rest*}", "methods": ["ANY"],
            "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/${{request.path[rest]}}", backend.addr),
                        "readTimeoutInSeconds": 1}}]}),
    )
    .await;
    let started = std::time::Instant::now();
    let response = client().get(gw.url("/s/stall")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the head came in time");
    let body = tokio::time::timeout(Duration::from_secs(10), response.bytes())
        .await
        .expect("the gateway held the stalled body past its read timeout");
    assert!(body.is_err(), "a cut-off body must not look complete: {body:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "cut off after {elapsed:?}");
    // The gateway still serves, on a new upstream connection.
    let r = client().get(gw.url("/s/after")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "conn=2 path=/after body=0");
    gw.stop().await;
}
