//! Rate limits shared by several nodes (`--redis-url`): two real `fngate up` nodes on one
//! PostgreSQL database and one real Redis (started by this test on a free loopback port). A
//! `TOTAL` limit admits about its rate across both nodes together; with Redis killed, traffic
//! keeps flowing under each node's own limit (one warning per node); once Redis is back, the
//! limit is shared again.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fngate_store::testing::PgTestDb;
use serde_json::json;
use support::*;

const RATE: u32 = 10;
const WINDOW: Duration = Duration::from_secs(2);

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/services.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends GETs to every URL in turn, 200 a second in all, for `WINDOW`: (admitted, refused
/// with 429, anything else).
async fn load(urls: &[String]) -> (u32, u32, u32) {
    let client = reqwest::Client::new();
    let (mut ok, mut limited, mut other) = (0, 0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < WINDOW {
        tick.tick().await;
        match client
            .get(&urls[i % urls.len()])
            .send()
            .await
            .map(|r| r.status().as_u16())
        {
            Ok(200) => ok += 1,
            Ok(429) => limited += 1,
            _ => other += 1,
        }
        i += 1;
    }
    (ok, limited, other)
}

fn warnings(server: &Server) -> usize {
    server
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("Redis unreachable"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_total_limit_is_shared_by_every_node_and_falls_back_per_node_without_redis() {
    let db = PgTestDb::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = Redis::start(port);
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let args = vec![
        "--database-url".to_string(),
        db.url().to_string(),
        "--redis-url".into(),
        redis_url,
    ];
    let start = || {
        Server::start_with(ServerOptions {
            args: args.clone(),
            ..ServerOptions::default()
        })
    };
    let (node1, node2) = (start(), start());
    let spec = json!({
        "requestPolicies": {"rateLimiting": {"rateInRequestsPerSecond": RATE, "rateKey": "TOTAL"}},
        "routes": [{"path": "/x", "methods": ["GET"],
                    "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "ok"}}]
    });
    let response = node1
        .http()
        .put(node1.admin("/fngate/gateway/deployments/limited"))
        .json(&json!({"pathPrefix": "/v1", "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let urls = [node1.gateway("/v1/x"), node2.gateway("/v1/x")];
    assert!(
        eventually(Duration::from_secs(2), || async {
            reqwest::get(&urls[1]).await.is_ok_and(|r| r.status() != 404)
        })
        .await
    );
    // Let the bucket fill up again after the probes.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Shared: the burst (RATE) plus RATE a second, over both nodes together.
    let expected = RATE + RATE * WINDOW.as_secs() as u32;
    let (ok, limited, other) = load(&urls).await;
    eprintln!("shared through Redis: {ok} admitted, {limited} refused (expected about {expected})");
    assert_eq!(other, 0);
    assert!(
        ok.abs_diff(expected) <= expected / 5,
        "{ok} admitted, expected {expected} ± 20 %"
    );
    assert!(limited > 100, "the load was {} requests", ok + limited);

    // Redis gone: no request fails for it; each node limits on its own (about twice as many
    // admitted), and says so once.
    redis.kill();
    let (ok, limited, other) = load(&urls).await;
    eprintln!("Redis down: {ok} admitted, {limited} refused (per node about {expected})");
    assert_eq!(other, 0, "no request fails because Redis is down");
    assert!(ok > expected * 3 / 2, "per-node limits: {ok} admitted");
    assert!(ok <= expected * 2 + expected / 5, "still limited: {ok} admitted");
    for node in [&node1, &node2] {
        assert_eq!(warnings(node), 1, "one warning per outage");
    }

    // Redis back: shared again once the nodes' back-off (1 s) has passed.
    let _redis = Redis::start(port);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, _, other) = load(&urls).await;
    eprintln!("Redis back: {ok} admitted (expected about {expected})");
    assert_eq!(other, 0);
    assert!(
        ok.abs_diff(expected) <= expected / 5,
        "{ok} admitted, expected {expected} ± 20 %"
    );
    drop(node1);
    drop(node2);
    db.drop_now().await;
}

#[test]
fn a_bad_redis_url_is_refused_naming_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let out = fngate_up_on_free_ports(data.path())
        .args(["--redis-url", "http://127.0.0.1:6379"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--redis-url (FNGATE_REDIS_URL): not a usable Redis URL"),
        "{stderr}"
    );
}
