//! `fngate gateway …` through the real binary: offline validation, and deploy / list / show /
//! delete against `fngate up`, with requests served on the gateway listener.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{BIN, Server};

const GOOD_YAML: &str = "routes:\n  - path: /hello\n    methods: [GET]\n    backend:\n      type: STOCK_RESPONSE_BACKEND\n      status: 200\n      body: hello from yaml\n";

const BAD_JSON: &str = r#"{
  "routes": [
    {"path": "hello", "backend": {"type": "HTTP_BACKEND", "url": "ftp://x", "isSSLVerifyDisabled": true}},
    {"path": "/ok", "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200}, "colour": "blue"}
  ]
}"#;

/// The CLI with no server to talk to.
fn run_offline(args: &[&str], data: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
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
    let out = run_offline(&["gateway", "validate", "--spec", bad.to_str().unwrap()], dir.path());
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
    let out = run_offline(
        &[
            "gateway",
            "validate",
            "--spec",
            good.to_str().unwrap(),
            "--path-prefix",
            "/v1",
        ],
        dir.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");

    let missing = run_offline(&["gateway", "validate", "--spec", "/nonexistent/spec.json"], dir.path());
    assert!(!missing.status.success());
    assert!(text(&missing).1.contains("/nonexistent/spec.json"));
}

#[tokio::test]
async fn deploy_list_show_delete_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let up = Server::start();
    let good = dir.path().join("api.yaml");
    std::fs::write(&good, GOOD_YAML).unwrap();
    let spec = good.to_str().unwrap();

    let out = up.cli(
        dir.path(),
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
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("created deployment api"), "{stdout}");
    let r = reqwest::get(up.gateway("/v1/hello")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("opc-request-id"));
    assert_eq!(r.text().await.unwrap(), "hello from yaml");

    // An invalid update is refused with every problem and the old version keeps serving.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, BAD_JSON).unwrap();
    let out = up.cli(
        dir.path(),
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
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("routes[0].backend.url") && stderr.contains("routes[0].path"),
        "{stderr}"
    );
    assert_eq!(reqwest::get(up.gateway("/v1/hello")).await.unwrap().status(), 200);

    let out = up.cli(dir.path(), &["gateway", "list"], None);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("api") && stdout.contains("/v1") && stdout.contains("serving"),
        "{stdout}"
    );
    let out = up.cli(dir.path(), &["gateway", "show", "api", "--output", "json"], None);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["specification"], GOOD_YAML, "the original text is kept");
    assert_eq!(shown["routes"][0]["path"], "/hello");

    let out = up.cli(dir.path(), &["gateway", "delete", "api"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(reqwest::get(up.gateway("/v1/hello")).await.unwrap().status(), 404);
    let out = up.cli(dir.path(), &["gateway", "delete", "api"], None);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not found"), "{:?}", text(&out));
}
