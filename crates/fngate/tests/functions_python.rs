//! The generated Python hello-world and a purpose-built handler, run by the real fdk from PyPI
//! through the real binary: CLI invoke, /invoke/{id}, HTTP triggers, Fn's error rules, pools.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const PROBE_PY: &str = r#"import io
import json
import os
import time
import uuid

from fdk import response

# Identifies the instance: in its own pid namespace every instance is pid 1, as in Fn's containers.
INSTANCE = uuid.uuid4().hex


def handler(ctx, data: io.BytesIO = None):
    cmd = data.getvalue().decode()
    if ctx.Method():
        return response.Response(
            ctx,
            response_data=json.dumps({"method": ctx.Method(), "custom": ctx.HTTPHeaders().get("x-custom"),
                                      "url": ctx.RequestURL()}),
            headers={"X-Resp": "r1", "Content-Type": "application/json"},
            status_code=201,
        )
    if cmd == "raise":
        raise Exception("kaboom")
    if cmd.startswith("sleep "):
        time.sleep(float(cmd.split()[1]))
    if cmd == "busy":
        print("busy " + INSTANCE, flush=True)
        time.sleep(60)
    names = ["FN_APP_NAME", "FN_FN_NAME", "FN_APP_ID", "FN_FN_ID", "FN_MEMORY", "FN_TYPE", "FN_FORMAT",
             "FN_LISTENER", "GREETING"]
    print("handled " + cmd, flush=True)
    return response.Response(
        ctx,
        response_data=json.dumps({"cmd": cmd, "pid": os.getpid(), "instance": INSTANCE,
                                  "env": {n: os.environ.get(n) for n in names}}),
        headers={"Content-Type": "application/json"},
    )
"#;

/// A function dir from `fngate init` with PROBE_PY as func.py and the given func.yaml extras.
fn probe(server: &Server, parent: &Path, name: &str, extra_yaml: &str) -> std::path::PathBuf {
    let dir = init(server, parent, "python", name, true);
    std::fs::write(dir.join("func.py"), PROBE_PY).unwrap();
    append_yaml(&dir, extra_yaml);
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_hello_world_answers_through_cli_invoke_and_trigger() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "hello", true);
    assert!(
        std::fs::read_to_string(dir.join("requirements.txt"))
            .unwrap()
            .starts_with("fdk")
    );

    let out = server.cli_ok(&dir, &["deploy", "--app", "myapp", "--create-app"], None);
    assert!(out.contains("Successfully deployed hello (hello:0.0.2)"), "{out}");
    // The version is bumped in func.yaml as `fn deploy` does.
    assert!(
        std::fs::read_to_string(dir.join("func.yaml"))
            .unwrap()
            .contains("\nversion: 0.0.2\n")
    );

    let out = server.cli_ok(&dir, &["invoke", "myapp", "hello"], None);
    assert_eq!(out.trim(), r#"{"message": "Hello World"}"#);
    let out = server.cli_ok(&dir, &["invoke", "myapp", "hello"], Some(br#"{"name":"Rust"}"#));
    assert_eq!(out.trim(), r#"{"message": "Hello Rust"}"#);

    let fn_id = server.fn_id("myapp", "hello").await;
    let response = server
        .invoker(&fn_id)
        .post(r#"{"name":"Rust"}"#, &[("content-type", "application/json")])
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("fn-call-id"));
    assert!(
        response.headers()["fn-fdk-version"]
            .to_str()
            .unwrap()
            .starts_with("fdk-python/")
    );
    assert_eq!(response.text().await.unwrap(), r#"{"message": "Hello Rust"}"#);

    let response = post(&server.functions("/t/myapp/hello"), r#"{"name":"Trigger"}"#, &[]).await;
    assert_eq!(response.status(), 200);
    // The trigger writer drops everything but unwrapped headers, Content-Type and Fn-Call-Id.
    assert!(!response.headers().contains_key("fn-fdk-version"));
    assert_eq!(response.text().await.unwrap(), r#"{"message": "Hello Trigger"}"#);

    // Output is captured per call and tagged with the call id; --follow streams new lines.
    let logs = server.cli_ok(&dir, &["logs", "myapp", "hello"], None);
    assert!(logs.contains("Inside Python Hello World function"), "{logs}");
    let mut follow = std::process::Command::new(BIN)
        .args(["logs", "myapp", "hello", "--follow", "--server", &server.admin("")])
        .arg("--data-dir")
        .arg(&server.data)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let followed = std::io::BufReader::new(follow.stdout.take().unwrap());
    let response = server.invoker(&fn_id).post("", &[]).await;
    let call_id = response.headers()["fn-call-id"].to_str().unwrap().to_string();
    // Stored lines come first, then live ones; the new call's output must show up either way.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(followed).map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Bounded so a broken stream fails the test instead of hanging it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = false;
    while !seen {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => seen = line.contains(&call_id),
            Err(_) => break,
        }
    }
    assert!(seen, "the followed log never showed call {call_id}");
    follow.kill().unwrap();
    follow.wait().unwrap();

    // A second deploy with unchanged requirements reuses the environment.
    let out = server.cli_ok(&dir, &["deploy", "--app", "myapp"], None);
    assert!(
        out.contains("(hello:0.0.3)") && out.contains("environment reused"),
        "{out}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&dir, &["list", "fns", "myapp", "--output", "json"], None)).unwrap();
    assert_eq!(listed[0]["image"], "hello:0.0.3");
    assert_eq!(listed[0]["memory"], 256);
}

#[tokio::test(flavor = "multi_thread")]
async fn fn_error_rules_timeouts_crashes_and_trigger_wrapping() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = probe(&server, work.path(), "probe", "timeout: 2\nconfig:\n  GREETING: hi\n");
    server.cli_ok(&dir, &["deploy", "--app", "errs", "--create-app"], None);
    let fn_id = server.fn_id("errs", "probe").await;
    let invoke = server.invoker(&fn_id);

    // The FDK contract environment plus the fn config.
    let ok: serde_json::Value = invoke.post("env", &[]).await.json().await.unwrap();
    let env = &ok["env"];
    assert_eq!(env["FN_APP_NAME"], "errs");
    assert_eq!(env["FN_FN_NAME"], "probe");
    assert_eq!(env["FN_FN_ID"], fn_id.as_str());
    assert_eq!(env["FN_MEMORY"], "256");
    assert_eq!(env["FN_TYPE"], "sync");
    assert_eq!(env["FN_FORMAT"], "http-stream");
    assert_eq!(env["GREETING"], "hi");
    let listener = env["FN_LISTENER"].as_str().unwrap();
    assert!(listener.starts_with("unix:") && listener.ends_with("/lsnr.sock") && listener.len() <= 5 + 107);

    // A raising handler: 502 with Fn's body; the instance is kept.
    let response = invoke.post("raise", &[]).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), r#"{"message":"function failed"}"#);
    let after: serde_json::Value = invoke.post("again", &[]).await.json().await.unwrap();
    assert_eq!(after["instance"], ok["instance"], "a 502 keeps the instance");

    // Past the 2 s timeout: 504, the instance is killed, the next call works on a new one.
    let host_pid = server.instance_pids("errs", "probe").await[0];
    let response = invoke.post("sleep 5", &[]).await;
    assert_eq!(response.status(), 504);
    assert_eq!(response.text().await.unwrap(), r#"{"message":"Timed out"}"#);
    assert!(eventually(Duration::from_secs(3), || async { !process_alive(host_pid) }).await);
    let next: serde_json::Value = invoke.post("next", &[]).await.json().await.unwrap();
    assert_eq!(next["cmd"], "next");
    assert_ne!(next["instance"], ok["instance"]);

    // Killed mid-call: 502 "error receiving function response", then recovery.
    let call = tokio::spawn({
        let invoke = invoke.clone();
        async move { invoke.post("busy", &[]).await }
    });
    let busy = format!("busy {}", next["instance"].as_str().unwrap());
    assert!(
        eventually(Duration::from_secs(10), || async {
            server
                .cli_ok(work.path(), &["logs", "errs", "probe"], None)
                .contains(&busy)
        })
        .await
    );
    let pid = server.instance_pids("errs", "probe").await[0];
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let response = call.await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"message":"error receiving function response"}"#
    );
    assert_eq!(invoke.post("recovered", &[]).await.status(), 200);

    // HTTP trigger: Fn-Http-* wrapping in, function-set status and headers out.
    let response = post(&server.functions("/t/errs/probe?x=1"), "", &[("x-custom", "abc")]).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-resp"], "r1");
    assert!(response.headers().contains_key("fn-call-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["custom"], "abc");
    assert!(body["url"].as_str().unwrap().ends_with("/t/errs/probe?x=1"));

    // Detached: 202 before the function has finished; the call still runs in the background.
    let response = invoke.post("sleep 1.5", &[("fn-invoke-type", "detached")]).await;
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("fn-call-id"));
    let logs = || server.cli_ok(work.path(), &["logs", "errs", "probe"], None);
    assert!(
        !logs().contains("handled sleep 1.5"),
        "202 must not wait for the function"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            logs().contains("handled sleep 1.5")
        })
        .await
    );

    // Output lines are tagged with their call id.
    let logs = server.cli_ok(work.path(), &["logs", "errs", "probe"], None);
    assert!(logs.lines().any(|l| l.contains(" stdout handled recovered")), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_bound_instances_reap_idle_ones_and_redeploys_drain() {
    let server = Server::start_with(ServerOptions {
        pools: Pools {
            max_per_fn: 2,
            // Long enough for a cold start plus a short call on a loaded CI machine, well under
            // the 2 s calls below that must overflow it.
            queue_timeout_ms: 1000,
            ..Pools::default()
        },
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    let dir = probe(&server, work.path(), "pool", "idle_timeout: 1\n");
    server.cli_ok(&dir, &["deploy", "--app", "pools", "--create-app"], None);
    let fn_id = server.fn_id("pools", "pool").await;
    let invoke = server.invoker(&fn_id);

    // Four parallel calls with room for two instances: all succeed on at most two processes.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let invoke = invoke.clone();
            tokio::spawn(async move { invoke.post("sleep 0.2", &[]).await })
        })
        .collect();
    let mut instances = std::collections::HashSet::new();
    for call in calls {
        let response = call.await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        instances.insert(body["instance"].as_str().unwrap().to_string());
    }
    assert!(instances.len() <= 2, "{instances:?}");
    let pids = server.instance_pids("pools", "pool").await;
    assert!(pids.len() <= instances.len(), "{pids:?}");
    assert!(server.fn_status("pools", "pool").await["started"].as_u64().unwrap() <= 2);

    // More waiting than the queue allows: 503 with Retry-After.
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let invoke = invoke.clone();
            tokio::spawn(async move { invoke.post("sleep 2", &[]).await })
        })
        .collect();
    let mut busy = 0;
    for call in calls {
        let response = call.await.unwrap();
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "15");
            assert_eq!(
                response.text().await.unwrap(),
                r#"{"message":"Timed out - server too busy"}"#
            );
            busy += 1;
        } else {
            assert_eq!(response.status(), 200);
        }
    }
    assert_eq!(busy, 1);

    // idle_timeout: 1 — idle instances exit and their processes are gone.
    assert!(
        eventually(Duration::from_secs(5), || async {
            server.fn_status("pools", "pool").await["instances"] == 0
        })
        .await
    );
    // The reaper's SIGKILL is asynchronous: allow the processes the moment to die, as the other
    // kill checks in this file do.
    for pid in &pids {
        assert!(
            eventually(Duration::from_secs(3), || async { !process_alive(*pid) }).await,
            "instance {pid} outlived its idle_timeout"
        );
    }

    // A redeploy while a call runs: the call finishes on the old code, new calls see the new one.
    let slow = tokio::spawn({
        let invoke = invoke.clone();
        async move { invoke.post("sleep 1", &[]).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let old_pid = server.instance_pids("pools", "pool").await[0];
    let code = std::fs::read_to_string(dir.join("func.py")).unwrap();
    std::fs::write(
        dir.join("func.py"),
        code.replace("\"cmd\": cmd", "\"cmd\": cmd, \"v\": 2"),
    )
    .unwrap();
    server.cli_ok(&dir, &["deploy", "--app", "pools"], None);
    let old: serde_json::Value = slow.await.unwrap().json().await.unwrap();
    assert!(old.get("v").is_none(), "in-flight call must finish on the old instance");
    let new: serde_json::Value = invoke.post("x", &[]).await.json().await.unwrap();
    assert_eq!(new["v"], 2);
    assert!(eventually(Duration::from_secs(3), || async { !process_alive(old_pid) }).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_kill9_restart_and_stale_socket_dirs() {
    let mut server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "hello", false);
    server.cli_ok(&dir, &["deploy", "--app", "durable", "--create-app"], None);
    let first: i32 = {
        let id = server.fn_id("durable", "hello").await;
        let response = server.invoker(&id).post("", &[]).await;
        assert_eq!(response.status(), 200);
        id.len() as i32
    };
    assert_eq!(first, 26, "Fn-style 26-character ids");
    let data = server.kill9();

    // A stale socket directory as fdk-python leaves it (phony socket file + symlink).
    let stale = data.join("functions/run/istale");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("phonylsnr.sock"), "").unwrap();
    std::os::unix::fs::symlink("phonylsnr.sock", stale.join("lsnr.sock")).unwrap();

    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    let out = server.cli_ok(work.path(), &["invoke", "durable", "hello"], None);
    assert_eq!(out.trim(), r#"{"message": "Hello World"}"#);
    assert!(!stale.exists(), "stale socket directories are cleaned at start");
    drop(server);
    // Shutdown stops every instance and removes their socket directories.
    let left: Vec<_> = std::fs::read_dir(data.join("functions/run")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn global_limit_evicts_idle_instances_of_other_functions() {
    let server = Server::start_with(ServerOptions {
        pools: Pools {
            max_total: 1,
            queue_timeout_ms: 600,
            ..Pools::default()
        },
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    for name in ["first", "second"] {
        let dir = init(&server, work.path(), "python", name, false);
        server.cli_ok(&dir, &["deploy", "--app", "evict", "--create-app"], None);
    }
    let out = server.cli_ok(work.path(), &["invoke", "evict", "first"], None);
    assert_eq!(out.trim(), r#"{"message": "Hello World"}"#);
    assert_eq!(server.fn_status("evict", "first").await["idle"], 1);
    // The only global slot is held by an idle instance of `first`: it is evicted for `second`.
    let out = server.cli_ok(work.path(), &["invoke", "evict", "second"], None);
    assert_eq!(out.trim(), r#"{"message": "Hello World"}"#);
    assert_eq!(server.fn_status("evict", "first").await["instances"], 0);
}
