//! `fngate gateway …` through the real binary: offline validation, and deploy / list / show /
//! delete against `fngate up`, with requests served on the gateway listener.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fngate");

const GOOD_YAML: &str = "routes:\n  - path: /hello\n    methods: [GET]\n    backend:\n      type: STOCK_RESPONSE_BACKEND\n      status: 200\n      body: hello from yaml\n";

const BAD_JSON: &str = r#"{
  "routes": [
    {"path": "hello", "backend": {"type": "HTTP_BACKEND", "url": "ftp://x", "isSSLVerifyDisabled": true}},
    {"path": "/ok", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}, "colour": "blue"}
  ]
}"#;

fn run(args: &[&str], data: &Path, server: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).arg("--data-dir").arg(data);
    if let Some(server) = server {
        command.args(["--server", server]);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn validate_works_offline_and_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, BAD_JSON).unwrap();
    let out = run(
        &["gateway", "validate", "--spec", bad.to_str().unwrap()],
        dir.path(),
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("routes[0].path"), "{stderr}");
    assert!(stderr.contains("routes[0].backend.url"), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("isSSLVerifyDisabled"),
        "{stderr}"
    );

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, GOOD_YAML).unwrap();
    let out = run(
        &[
            "gateway",
            "validate",
            "--spec",
            good.to_str().unwrap(),
            "--path-prefix",
            "/v1",
        ],
        dir.path(),
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");

    let missing = run(
        &["gateway", "validate", "--spec", "/nonexistent/spec.json"],
        dir.path(),
        None,
    );
    assert!(!missing.status.success());
    assert!(text(&missing).1.contains("/nonexistent/spec.json"));
}

struct Up {
    child: Child,
    admin: String,
    gateway: String,
}

impl Up {
    fn start(data: &Path) -> Up {
        let mut child = Command::new(BIN)
            .args(["up", "--data-dir"])
            .arg(data)
            .args(["--functions-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
            .args(["--gateway-addr", "127.0.0.1:0", "--idp-addr", "127.0.0.1:0"])
            .env("FNGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut admin, mut gateway) = (None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["admin", url, ..] => admin = Some(url.to_string()),
                ["gateway", url, ..] => gateway = Some(url.to_string()),
                _ => {}
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Up {
            child,
            admin: admin.expect("no admin address printed"),
            gateway: gateway.expect("no gateway address printed"),
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn deploy_list_show_delete_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = Up::start(&data);
    let good = dir.path().join("api.yaml");
    std::fs::write(&good, GOOD_YAML).unwrap();
    let spec = good.to_str().unwrap();

    let out = run(
        &[
            "gateway",
            "deploy",
            "--name",
            "api",
            "--path-prefix",
            "/v1",
            "--spec",
            spec,
        ],
        &data,
        Some(&up.admin),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("created deployment api"), "{stdout}");
    let r = reqwest::get(format!("{}/v1/hello", up.gateway)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("opc-request-id"));
    assert_eq!(r.text().await.unwrap(), "hello from yaml");

    // An invalid update is refused with every problem and the old version keeps serving.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, BAD_JSON).unwrap();
    let out = run(
        &[
            "gateway",
            "deploy",
            "--name",
            "api",
            "--path-prefix",
            "/v1",
            "--spec",
            bad.to_str().unwrap(),
        ],
        &data,
        Some(&up.admin),
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("routes[0].backend.url") && stderr.contains("routes[0].path"),
        "{stderr}"
    );
    assert_eq!(
        reqwest::get(format!("{}/v1/hello", up.gateway)).await.unwrap().status(),
        200
    );

    let out = run(&["gateway", "list"], &data, Some(&up.admin));
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("api") && stdout.contains("/v1") && stdout.contains("serving"),
        "{stdout}"
    );
    let out = run(&["gateway", "show", "api", "--output", "json"], &data, Some(&up.admin));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["specification"], GOOD_YAML, "the original text is kept");
    assert_eq!(shown["routes"][0]["path"], "/hello");

    let out = run(&["gateway", "delete", "api"], &data, Some(&up.admin));
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        reqwest::get(format!("{}/v1/hello", up.gateway)).await.unwrap().status(),
        404
    );
    let out = run(&["gateway", "delete", "api"], &data, Some(&up.admin));
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not found"), "{:?}", text(&out));
}
