//! Clean upstream pools (#12): a backend that sends more than the response it was asked for, at
//! once or later while the connection is idle, never gets those bytes delivered to another
//! client; the connection is closed instead of reused.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestGateway, client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers each request `upstream saw: <X-Secret>`. After a request for `/inline` it sends, in
/// the same write, a second unrequested response; after `/later`, it sends one 100 ms later,
/// while the connection sits idle; after `/head-body`, a body on a response to HEAD. Other
/// paths get an honest answer. Counts connections.
struct HostileBackend {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileBackend {
    async fn start() -> HostileBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream));
            }
        });
        HostileBackend {
            addr,
            connections,
            task,
        }
    }
}

impl Drop for HostileBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn response(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

async fn serve(mut stream: TcpStream) {
    let mut buffered = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffered.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffered[..head_end]).to_string();
        buffered.drain(..head_end);
        let method = head.split(' ').next().unwrap_or("").to_string();
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let secret = head
            .lines()
            .find_map(|l| l.strip_prefix("x-secret: ").or_else(|| l.strip_prefix("X-Secret: ")))
            .unwrap_or("none")
            .to_string();
        let answer = response(&format!("upstream saw: {secret}"));
        let stray = response(&format!("upstream saw: {secret} (unsolicited)"));
        let ok = match path.as_str() {
            "/inline" => stream.write_all(format!("{answer}{stray}").as_bytes()).await.is_ok(),
            "/later" => {
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                stream.write_all(stray.as_bytes()).await.is_ok()
            }
            "/head-body" if method == "HEAD" => {
                let body = format!("upstream saw: {secret}");
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                stream.write_all(format!("{head}{body}").as_bytes()).await.is_ok()
            }
            _ => stream.write_all(answer.as_bytes()).await.is_ok(),
        };
        if !ok {
            return;
        }
    }
}

#[tokio::test]
async fn unsolicited_responses_never_reach_another_client() {
    let backend = HostileBackend::start().await;
    let gw = TestGateway::start().await;
    gw.deploy(
        "hostile",
        "/h",
        json!({"routes": [{"path": "/{all*}",
            "backend": {"type": "HTTP_BACKEND", "url": format!("http://{}/${{request.path[all]}}", backend.addr)}}]}),
    )
    .await;

    for (round, trick) in ["inline", "later", "head-body"].iter().cycle().take(12).enumerate() {
        // Client A: a fresh connection, its own secret, the hostile path.
        let a = client();
        let secret_a = format!("SECRET-OF-A-{round}");
        let request = if *trick == "head-body" {
            a.head(gw.url(&format!("/h/{trick}")))
        } else {
            a.get(gw.url(&format!("/h/{trick}")))
        };
        let response = request.header("X-Secret", &secret_a).send().await.unwrap();
        assert_eq!(response.status(), 200, "{trick}");
        let body = response.text().await.unwrap();
        if *trick != "head-body" {
            assert_eq!(body, format!("upstream saw: {secret_a}"), "{trick}");
        }
        if *trick == "later" {
            // The stray response arrives while the upstream connection is idle in the pool.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Clients B: other connections, honest requests; each sees only its own answer.
        for n in 0..3 {
            let b = client();
            let secret_b = format!("B-{round}-{n}");
            let response = b
                .get(gw.url("/h/honest"))
                .header("X-Secret", &secret_b)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("SECRET-OF-A"),
                "round {round} ({trick}): client B got A's data: {body}"
            );
            assert_eq!(status, 200, "round {round} ({trick}): {body}");
            assert_eq!(body, format!("upstream saw: {secret_b}"), "round {round} ({trick})");
        }
    }
    // The tainted connections were closed, not reused: at least one new connection per trick.
    assert!(
        backend.connections.load(Ordering::SeqCst) >= 12,
        "connections: {}",
        backend.connections.load(Ordering::SeqCst)
    );
    gw.stop().await;
}
