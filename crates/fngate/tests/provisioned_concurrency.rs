//! `deploy.oci.provisioned_concurrency` in func.yaml: N instances of the real Python fdk start at
//! deploy and again at server restart, before any call; they stay past the idle timeout, show in
//! `fngate status` and the pool gauges, and the first call runs on one of them (no new start).
//! Settings fngate accepts but does not act on warn, naming the field.

mod support;

use std::time::Duration;

use support::*;

const PID_PY: &str = r#"import io
import os

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    return response.Response(ctx, response_data=str(os.getpid()))
"#;

/// The host pid a call answered from: the sandbox gives each instance pid 1 inside, so the
/// answer is matched against the live pids through their count of `started` instead.
async fn started(server: &Server) -> u64 {
    server.fn_status("warm", "pc").await["started"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioned_instances_start_at_deploy_and_restart_and_stay_warm() {
    let mut server = Server::start_with(ServerOptions {
        ports: Some(Ports::free()),
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "pc", false);
    std::fs::write(dir.join("func.py"), PID_PY).unwrap();
    // idle_timeout 1 s: an unprovisioned instance would be reaped almost at once.
    append_yaml(
        &dir,
        "idle_timeout: 1\ndeploy:\n  oci:\n    provisioned_concurrency:\n      strategy: CONSTANT\n      count: 2\n    freeform_tags:\n      team: a\n",
    );
    let out = server.cli(&dir, &["deploy", "--app", "warm", "--create-app"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 provisioned instance(s) ready"), "{stderr}");
    assert!(
        stderr.contains("deploy.oci.freeform_tags: accepted but not acted on"),
        "{stderr}"
    );

    // Before any call: two live, idle instances, still there after several idle timeouts.
    let status = server.fn_status("warm", "pc").await;
    assert_eq!(status["provisioned"], 2, "{status}");
    assert_eq!(status["instances"], 2, "{status}");
    assert_eq!(status["idle"], 2, "{status}");
    let pids_before = server.instance_pids("warm", "pc").await;
    assert_eq!(pids_before.len(), 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server.instance_pids("warm", "pc").await,
        pids_before,
        "reaped while provisioned"
    );

    // `fngate status` and the gauges show them.
    let table = server.cli_ok(work.path(), &["status"], None);
    let row = table
        .lines()
        .find(|l| l.contains("warm") && l.contains(" pc "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[3..6], ["2", "2", "2"], "instances idle provisioned: {row}");
    let metrics = server
        .http()
        .get(server.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"fngate_function_idle_instances{app="warm",function="pc"} 2"#),
        "{metrics}"
    );

    // The first call runs on a provisioned instance: nothing new starts.
    let fn_id = server.fn_id("warm", "pc").await;
    assert_eq!(started(&server).await, 2);
    let r = server.invoker(&fn_id).post("", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(started(&server).await, 2, "the first call started an instance");

    // A provisioned instance that dies is replaced.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids_before[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(15), || async {
            let pids = server.instance_pids("warm", "pc").await;
            pids.len() == 2 && !pids.contains(&pids_before[0])
        })
        .await,
        "the killed instance was not replaced: {}",
        server.fn_status("warm", "pc").await
    );

    // After a restart, the instances are there again before any call.
    let ports = server.ports();
    let data = server.data.clone();
    server.terminate();
    let server = Server::start_with(ServerOptions {
        ports: Some(ports),
        data: Some(data),
        ..ServerOptions::default()
    });
    assert!(
        eventually(Duration::from_secs(20), || async {
            server.fn_status("warm", "pc").await["idle"] == 2
        })
        .await,
        "{}",
        server.fn_status("warm", "pc").await
    );
    assert_eq!(started(&server).await, 2);
    let r = server.invoker(&fn_id).post("", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(started(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_provisioned_concurrency_is_refused_with_its_line() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "bad", false);
    append_yaml(
        &dir,
        "deploy:\n  oci:\n    provisioned_concurrency:\n      strategy: CONSTANT\n      count: -3\n",
    );
    let out = server.cli(&dir, &["deploy", "--app", "warm", "--create-app"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("func.yaml:")
            && stderr.contains("deploy.oci.provisioned_concurrency.count: must be a whole number"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apps_syslog_url_warns_through_the_api_and_the_cli() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let out = server.cli(
        work.path(),
        &["create", "app", "logged", "--syslog-url", "tcp://logs.example.com:514"],
        None,
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: syslog_url: accepted but not acted on"),
        "{stderr}"
    );
    // The Fn API answers with a `Warning` header; the app is stored as given.
    let r = server
        .http()
        .post(server.admin("/v2/apps"))
        .json(&serde_json::json!({"name": "logged2", "syslog_url": "udp://10.0.0.1:514"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let warning = r.headers()["warning"].to_str().unwrap().to_string();
    assert!(
        warning.starts_with("299 fngate \"syslog_url: accepted but not acted on"),
        "{warning}"
    );
    let app: serde_json::Value = r.json().await.unwrap();
    assert_eq!(app["syslog_url"], "udp://10.0.0.1:514");
    // Without one, no warning.
    let r = server
        .http()
        .post(server.admin("/v2/apps"))
        .json(&serde_json::json!({"name": "quiet"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("warning").is_none());
    // Deploying into the app says it too.
    let dir = init(&server, work.path(), "python", "fx", false);
    let out = server.cli(&dir, &["deploy", "--app", "logged"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("app \"logged\": syslog_url (tcp://logs.example.com:514): accepted but not acted on"),
        "{stderr}"
    );
}
