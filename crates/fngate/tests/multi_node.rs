//! Several nodes, one truth: real `fngate up` processes on one real PostgreSQL database (a fresh
//! one per test, from FNGATE_TEST_DATABASE_URL), each with a data directory of its own. What one
//! node's admin API changes, the other serves within a second (LISTEN/NOTIFY); a node restarted
//! serves what changed while it was down; a node that loses the database keeps serving, says
//! it is not ready on /readyz, and catches up when the database returns.

mod support;

use std::time::{Duration, Instant};

use fngate_store::testing::PgTestDb;
use serde_json::json;
use sqlx::{ConnectOptions, Connection};
use support::*;

const HANDLER: &str = r#"import io

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    return response.Response(ctx, response_data="hello from the function", headers={"Content-Type": "text/plain"})
"#;

fn node(database_url: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--database-url".to_string(), database_url.to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    Server::start_with(ServerOptions {
        args,
        ..ServerOptions::default()
    })
}

fn restart(database_url: &str, old: &Server) -> Server {
    Server::start_with(ServerOptions {
        args: vec!["--database-url".into(), database_url.into()],
        data: Some(old.data.clone()),
        ..ServerOptions::default()
    })
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(response) => (response.status().as_u16(), response.text().await.unwrap_or_default()),
        Err(err) => (0, err.to_string()),
    }
}

/// PUTs a gateway deployment through `server`'s admin API.
async fn put_deployment(server: &Server, name: &str, prefix: &str, spec: serde_json::Value) {
    let response = server
        .http()
        .put(server.admin(&format!("/fngate/gateway/deployments/{name}")))
        .json(&json!({"pathPrefix": prefix, "specification": spec}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

fn stock(path: &str, body: &str) -> serde_json::Value {
    json!({"path": path, "methods": ["GET"],
           "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": body}})
}

/// How long until `url` answers `want` on every poll (5 ms apart), or `None` after `limit`.
async fn time_until(url: &str, want: (u16, &str), limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let (status, body) = get(url).await;
        if status == want.0 && body == want.1 {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_one_database_serve_the_same_state_and_follow_each_other() {
    let db = PgTestDb::create().await;
    let node1 = node(db.url(), &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = init(&node1, work.path(), "python", "hello", false);
    std::fs::write(dir.join("func.py"), HANDLER).unwrap();
    node1.cli_ok(&dir, &["deploy", "--app", "multi", "--create-app"], None);
    let spec = json!({"routes": [
        stock("/stock", "stock v1"),
        {"path": "/fn", "methods": ["GET"],
         "backend": {"type": "ORACLE_FUNCTIONS_BACKEND", "functionId": "multi/hello"}},
    ]});
    put_deployment(&node1, "api", "/v1", spec).await;
    assert_eq!(get(&node1.gateway("/v1/stock")).await, (200, "stock v1".into()));
    assert_eq!(
        get(&node1.gateway("/v1/fn")).await,
        (200, "hello from the function".into())
    );

    // A second node with an empty data directory of its own serves the same state.
    let node2 = node(db.url(), &[]);
    assert_ne!(node1.data, node2.data);
    assert!(node2.stdout().contains("fngate"), "{}", node2.stdout());
    assert_eq!(get(&node2.gateway("/v1/stock")).await, (200, "stock v1".into()));
    assert_eq!(
        get(&node2.gateway("/v1/fn")).await,
        (200, "hello from the function".into())
    );
    let listed = node2.cli_ok(work.path(), &["gateway", "list"], None);
    assert!(listed.contains("api") && listed.contains("/v1"), "{listed}");
    for server in [&node1, &node2] {
        let (status, body) = get(&server.admin("/readyz")).await;
        assert_eq!((status, body.as_str()), (200, "ready\n"));
    }

    // A change through node 1 reaches node 2's data plane within a second, both ways round.
    put_deployment(
        &node1,
        "second",
        "/v2",
        json!({"routes": [stock("/x", "new on node 1")]}),
    )
    .await;
    let took = time_until(&node2.gateway("/v2/x"), (200, "new on node 1"), Duration::from_secs(1))
        .await
        .expect("node 2 serves node 1's new deployment within 1 s");
    eprintln!("propagation node 1 -> node 2: {} ms", took.as_millis());
    put_deployment(&node2, "api", "/v1", json!({"routes": [stock("/stock", "stock v2")]})).await;
    let took = time_until(&node1.gateway("/v1/stock"), (200, "stock v2"), Duration::from_secs(1))
        .await
        .expect("node 1 serves node 2's update within 1 s");
    eprintln!("propagation node 2 -> node 1: {} ms", took.as_millis());
    put_deployment(&node1, "gone", "/gone", json!({"routes": [stock("/z", "short-lived")]})).await;
    assert!(
        time_until(&node2.gateway("/gone/z"), (200, "short-lived"), Duration::from_secs(1))
            .await
            .is_some()
    );
    let deleted = node2
        .http()
        .delete(node2.admin("/fngate/gateway/deployments/gone"))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    assert!(
        eventually(Duration::from_secs(1), || async {
            get(&node1.gateway("/gone/z")).await.0 == 404
        })
        .await,
        "node 1 stops serving what node 2 deleted within 1 s"
    );
    // Deployments nobody touched keep serving throughout.
    assert_eq!(get(&node1.gateway("/v2/x")).await, (200, "new on node 1".into()));

    // Node 2 down: what changes meanwhile, it serves once restarted.
    let mut node2 = node2;
    assert!(node2.terminate().success());
    let delete = node1
        .http()
        .delete(node1.admin("/fngate/gateway/deployments/second"))
        .send()
        .await
        .unwrap();
    assert!(delete.status().is_success());
    put_deployment(
        &node1,
        "third",
        "/v3",
        json!({"routes": [stock("/y", "made while node 2 was down")]}),
    )
    .await;
    let node2 = restart(db.url(), &node2);
    assert_eq!(get(&node2.gateway("/v1/stock")).await, (200, "stock v2".into()));
    assert_eq!(get(&node2.gateway("/v2/x")).await.0, 404);
    assert_eq!(
        get(&node2.gateway("/v3/y")).await,
        (200, "made while node 2 was down".into())
    );
    // Functions too: node 1 deletes the function, node 2's route stops answering with it.
    node1.cli_ok(&dir, &["delete", "fn", "multi", "hello"], None);
    assert!(
        eventually(Duration::from_secs(1), || async {
            let (status, _) = get(&node2.gateway("/v1/stock")).await;
            let gone = node2.status().await["items"]
                .as_array()
                .is_some_and(|items| !items.iter().any(|i| i["fn"] == "hello"));
            status == 200 && gone
        })
        .await,
        "node 2 dropped the function node 1 deleted"
    );
    drop(node1);
    drop(node2);
    db.drop_now().await;
}

/// A role of its own for node 2, so the test can take the database away from that node alone.
struct NodeRole {
    name: String,
    admin: sqlx::postgres::PgConnectOptions,
}

impl NodeRole {
    async fn create(admin_url: &str) -> NodeRole {
        let admin: sqlx::postgres::PgConnectOptions = admin_url.parse().unwrap();
        let name = format!("fngate_node_{}", std::process::id());
        let role = NodeRole { name, admin };
        role.sql(&format!("DROP ROLE IF EXISTS {0}", role.name)).await;
        role.sql(&format!("CREATE ROLE {} LOGIN SUPERUSER", role.name)).await;
        role
    }

    async fn sql(&self, sql: &str) {
        let mut conn = self.admin.connect().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        conn.close().await.unwrap();
    }

    /// Refuses new sessions of the role and ends the ones it has.
    async fn cut(&self) {
        self.sql(&format!(
            "ALTER ROLE {0} NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}'",
            self.name
        ))
        .await;
    }

    async fn restore(&self) {
        self.sql(&format!("ALTER ROLE {} LOGIN", self.name)).await;
    }

    async fn drop_role(self) {
        self.cut().await;
        self.sql(&format!("DROP ROLE IF EXISTS {}", self.name)).await;
    }
}

/// `url` with `user` in place of its user name.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
    format!("{scheme}://{user}@{host}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_loses_the_database_keeps_serving_is_not_ready_and_catches_up() {
    let db = PgTestDb::create().await;
    let role = NodeRole::create(db.url()).await;
    let node1 = node(db.url(), &[]);
    put_deployment(&node1, "api", "/v1", json!({"routes": [stock("/a", "before")]})).await;
    // Node 2 reconciles every second, so the catch-up below does not wait the default 10 s.
    let node2 = node(&as_user(db.url(), &role.name), &["--reconcile-secs", "1"]);
    assert_eq!(get(&node2.gateway("/v1/a")).await, (200, "before".into()));
    assert_eq!(get(&node2.admin("/readyz")).await.0, 200);

    role.cut().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let reason = loop {
        let (status, body) = get(&node2.admin("/readyz")).await;
        if status == 503 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "node 2 still reports ready without its database: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        reason.starts_with("not ready: store (postgres) unreachable"),
        "{reason}"
    );
    assert_eq!(get(&node2.admin("/healthz")).await.0, 200, "alive all the same");
    // It keeps serving what it has, while node 1 (still connected) changes things.
    assert_eq!(get(&node2.gateway("/v1/a")).await, (200, "before".into()));
    put_deployment(&node1, "api", "/v1", json!({"routes": [stock("/a", "after")]})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&node2.gateway("/v1/a")).await, (200, "before".into()));

    // The database returns: node 2 is ready again and serves what changed meanwhile.
    role.restore().await;
    assert!(
        time_until(&node2.gateway("/v1/a"), (200, "after"), Duration::from_secs(15))
            .await
            .is_some(),
        "node 2 caught up with the change made while it had no database"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            get(&node2.admin("/readyz")).await == (200, "ready\n".into())
        })
        .await,
        "{:?}",
        get(&node2.admin("/readyz")).await
    );
    drop(node2);
    drop(node1);
    role.drop_role().await;
    db.drop_now().await;
}

#[test]
fn a_bad_or_unreachable_database_url_is_refused_naming_the_flag() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (url, expect) in [
        ("mysql://root@127.0.0.1/fngate".to_string(), "not a PostgreSQL URL"),
        (
            format!("postgres://fngate:secret@127.0.0.1:{port}/fngate"),
            "cannot connect to PostgreSQL at fngate@127.0.0.1",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = fngate_up_on_free_ports(data.path())
            .args(["--database-url", &url])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {stderr}");
        assert!(stderr.contains("--database-url (FNGATE_DATABASE_URL)"), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(!stderr.contains("secret"), "the password is never printed: {stderr}");
    }
}
