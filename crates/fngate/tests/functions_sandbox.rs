//! The function sandbox, attacked from inside by a real func.py on the real fdk
//! (`tests/sandbox/attacker.py`): every way out it tries must fail, limits must end the instance
//! with Fn's error and a fresh instance next, nothing of a function (instances, their daemons,
//! install-time code) may outlive its instance or fngate, and config may not name the variables
//! the runtime interprets.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const ATTACKER: &str = include_str!("sandbox/attacker.py");

/// Every attack that must fail, whatever the machine (see `attacker.py`).
const ATTACKS: [&str; 10] = [
    "read_secrets",
    "other_code",
    "environ",
    "ptrace",
    "signal",
    "fork_bomb",
    "write_outside_tmp",
    "bind_tcp",
    "namespace",
    "fill_disk",
];

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A function dir with the attacker as func.py, `config` (func.yaml lines) and the data dir the
/// attacker should try to read.
fn attacker_dir(server: &Server, parent: &Path, name: &str, data_dir: &Path, extra_yaml: &str) -> std::path::PathBuf {
    let dir = init(server, parent, "python", name, false);
    std::fs::write(dir.join("func.py"), ATTACKER).unwrap();
    append_yaml(
        &dir,
        &format!(
            "config:\n  DATA_DIR: {}\n  VICTIM_SECRET: s3cr3t-{name}\n{extra_yaml}",
            data_dir.display()
        ),
    );
    dir
}

async fn run(server: &Server, fn_id: &str, command: &str) -> reqwest::Response {
    server.invoker(fn_id).post(command, &[]).await
}

async fn result_of(server: &Server, fn_id: &str, command: &str) -> Value {
    let response = run(server, fn_id, command).await;
    assert_eq!(response.status(), 200, "{command}");
    let body: Value = response.json().await.unwrap();
    body
}

async fn set_config(server: &Server, fn_id: &str, config: Value) {
    let response = server
        .http()
        .put(server.functions(&format!("/v2/fns/{fn_id}")))
        .json(&json!({ "config": config }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Runs every attack; returns the ones that worked, with what they got.
async fn successful_attacks(server: &Server, fn_id: &str) -> Vec<String> {
    let mut succeeded = Vec::new();
    for attack in ATTACKS {
        let body = result_of(server, fn_id, attack).await;
        let result = &body["result"];
        assert!(result["succeeded"].is_boolean(), "{attack}: {body}");
        if result["succeeded"] == true {
            succeeded.push(format!("{attack}: {}", result["detail"]));
        }
    }
    succeeded
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attacker_function_gets_nowhere_and_the_server_keeps_serving() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    for name in ["victim", "attacker"] {
        let dir = attacker_dir(&server, work.path(), name, &server.data, "");
        server.cli_ok(&dir, &["deploy", "--app", "sandbox", "--create-app"], None);
    }
    let victim = server.fn_id("sandbox", "victim").await;
    let attacker = server.fn_id("sandbox", "attacker").await;
    let victim_status = result_of(&server, &victim, "status").await["result"].clone();
    let victim_pid = server.instance_pids("sandbox", "victim").await[0];
    set_config(
        &server,
        &attacker,
        json!({"VICTIM_PID": victim_pid.to_string(), "SERVER_PID": server.pid().to_string()}),
    )
    .await;

    // What the instance is: no capabilities, no_new_privs, a seccomp filter, pid 1 of its own
    // namespace, Fn's paths, and (as root) a uid of its own, not the victim's.
    let status = result_of(&server, &attacker, "status").await["result"].clone();
    assert_eq!(status["CapEff"], "0000000000000000", "{status}");
    assert_eq!(status["CapPrm"], "0000000000000000", "{status}");
    assert_eq!(status["CapBnd"], "0000000000000000", "{status}");
    assert_eq!(status["NoNewPrivs"], "1", "{status}");
    assert_eq!(status["Seccomp"], "2", "{status}");
    assert_eq!(status["pid"], 1, "{status}");
    assert_eq!(status["cwd"], "/function", "{status}");
    assert_eq!(status["listener"], "unix:/tmp/iofs/lsnr.sock", "{status}");
    if is_root() {
        let uid = |s: &Value| {
            s["Uid"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(uid(&status), "0");
        assert_ne!(uid(&status), uid(&victim_status), "each function has its own uid");
    }

    let succeeded = successful_attacks(&server, &attacker).await;
    assert!(succeeded.is_empty(), "attacks that worked: {succeeded:#?}");

    // Shared memory past the 256 MB limit: the instance is stopped, the call gets Fn's error,
    // the next call a fresh instance.
    let before = result_of(&server, &attacker, "status").await["instance"].clone();
    let response = run(&server, &attacker, "shared_memory").await;
    let status_code = response.status();
    let text = response.text().await.unwrap();
    if status_code == 200 {
        // Without a memory cgroup the allocation itself is refused.
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["result"]["succeeded"], false, "{body}");
    } else {
        assert_eq!(status_code, 502, "{text}");
        assert_eq!(text, r#"{"message":"error receiving function response"}"#);
        let after = result_of(&server, &attacker, "status").await["instance"].clone();
        assert_ne!(after, before, "a killed instance is replaced by a fresh one");
        let logs = server.cli_ok(work.path(), &["logs", "sandbox", "attacker"], None);
        assert!(logs.contains("over its memory limit (256 MB): killed"), "{logs}");
    }

    // A daemon (setsid -f) dies with its instance.
    let marker = format!("900.{}", rand::random::<u32>());
    let body = result_of(&server, &attacker, &format!("daemon {marker}")).await;
    assert_eq!(body["result"]["succeeded"], true, "{body}");
    // `setsid -f` returns before its child has exec'd `sleep`: wait until the daemon shows.
    assert!(
        eventually(Duration::from_secs(5), || async { processes_with(&marker).len() == 1 }).await,
        "the daemon never started: {:?}",
        processes_with(&marker)
    );
    let daemons = processes_with(&marker);
    if is_root() {
        assert!(
            daemons[0].1 >= 1_600_000_000,
            "the daemon runs as the function's uid: {daemons:?}"
        );
    }
    // A config change retires the pool: its idle instance stops at once.
    set_config(&server, &attacker, json!({"RETIRE": "1"})).await;
    assert!(
        eventually(Duration::from_secs(5), || async { processes_with(&marker).is_empty() }).await,
        "the daemon outlived its instance: {:?}",
        processes_with(&marker)
    );

    // The server and the other function are unharmed.
    let victim_after = result_of(&server, &victim, "status").await;
    assert_eq!(victim_after["instance"], victim_status["instance"]);
    assert_eq!(server.status().await["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_of_a_function_survives_fngate_killed_with_sigkill() {
    let mut server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let dir = attacker_dir(&server, work.path(), "lingerer", &server.data, "");
    server.cli_ok(&dir, &["deploy", "--app", "kill9", "--create-app"], None);
    let fn_id = server.fn_id("kill9", "lingerer").await;
    let marker = format!("900.{}", rand::random::<u32>());
    let body = result_of(&server, &fn_id, &format!("daemon {marker}")).await;
    assert_eq!(body["result"]["succeeded"], true, "{body}");
    let instance = server.instance_pids("kill9", "lingerer").await[0];
    assert_eq!(processes_with(&marker).len(), 1);

    // An install that runs code (a local package's setup.py) and leaves a daemon behind.
    let build_marker = format!("901.{}", rand::random::<u32>());
    let evil = dir.join("evilpkg");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(
        evil.join("setup.py"),
        format!(
            "import subprocess, time\nsubprocess.run(['setsid', '-f', 'sleep', '{build_marker}'])\ntime.sleep(120)\n\
             from setuptools import setup\nsetup(name='evilpkg', version='1')\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("requirements.txt"), "fdk\n./evilpkg\n").unwrap();
    let deploy = std::process::Command::new(BIN)
        .args(["deploy", "--app", "kill9", "--server", &server.admin(""), "--data-dir"])
        .arg(&server.data)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(120), || async {
            !processes_with(&build_marker).is_empty()
        })
        .await,
        "the install never ran setup.py"
    );
    if is_root() {
        let builders = processes_with(&build_marker);
        assert!(
            builders.iter().all(|(_, uid)| *uid == 1_600_000_000),
            "installs run as the build uid: {builders:?}"
        );
    }

    server.kill9();
    for (what, needle) in [("daemon", &marker), ("install", &build_marker)] {
        assert!(
            eventually(Duration::from_secs(5), || async { processes_with(needle).is_empty() }).await,
            "the {what} outlived fngate: {:?}",
            processes_with(needle)
        );
    }
    assert!(
        eventually(Duration::from_secs(5), || async { !process_alive(instance) }).await,
        "the instance outlived fngate"
    );
    let mut deploy = deploy;
    let _ = deploy.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn config_naming_runtime_variables_is_refused_at_deploy_and_by_the_api() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let api = |path: &str| server.functions(path);
    let client = server.http();
    let refused = |response: reqwest::Response, key: &'static str| async move {
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
        let body: Value = response.json().await.unwrap();
        let message = body["message"].as_str().unwrap().to_string();
        assert!(message.contains(&format!("config key \"{key}\"")), "{message}");
        message
    };

    // func.yaml config: refused with the file, line and key, by the CLI and by the server.
    let dir = init(&server, work.path(), "python", "sneaky", false);
    append_yaml(
        &dir,
        "config:\n  GREETING: hi\n  BROWSER: /bin/sh -c 'id > /tmp/owned'\n",
    );
    let out = server.cli(&dir, &["deploy", "--app", "cfg", "--create-app"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("func.yaml:11: config.BROWSER: config key \"BROWSER\" is reserved"),
        "{err}"
    );
    let bundle = fngate_functions::bundle::pack_dir(
        &dir,
        &fngate_functions::bundle::IgnoreRules::none(),
        &fngate_functions::bundle::Limits::default(),
    )
    .unwrap();
    let stream = client
        .post(server.admin("/fngate/functions/deploy?app=cfg&create_app=true"))
        .header("content-type", "application/gzip")
        .body(bundle.bytes)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stream.contains(r#"config key \"BROWSER\" is reserved"#), "{stream}");
    let apps: Value = client.get(api("/v2/apps")).send().await.unwrap().json().await.unwrap();
    assert_eq!(apps["items"], json!([]), "nothing stored");

    // A func.yaml far larger than any real one is refused before it is parsed.
    let big = init(&server, work.path(), "python", "huge", false);
    let mut yaml = std::fs::read_to_string(big.join("func.yaml")).unwrap();
    yaml.push_str("annotations:\n");
    while yaml.len() < 2 << 20 {
        yaml.push_str(&format!("  k{}: v\n", yaml.len()));
    }
    std::fs::write(big.join("func.yaml"), yaml).unwrap();
    let out = server.cli(&big, &["deploy", "--app", "cfg", "--create-app"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("huge/func.yaml: file is larger than 1024 KiB"),
        "{err}"
    );

    // The Fn API: apps and fns, create and update.
    let response = client
        .post(api("/v2/apps"))
        .json(&json!({"name": "cfg", "config": {"PYTHONWARNINGS": "ignore::antigravity.X"}}))
        .send()
        .await
        .unwrap();
    refused(response, "PYTHONWARNINGS").await;
    let app: Value = client
        .post(api("/v2/apps"))
        .json(&json!({"name": "cfg", "config": {"GREETING": "hi"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_id = app["id"].as_str().unwrap();
    for (key, value) in [
        ("BROWSER", "/bin/sh -c id"),
        ("LD_PRELOAD", "/tmp/x.so"),
        ("path", "/tmp"),
    ] {
        let response = client
            .put(api(&format!("/v2/apps/{app_id}")))
            .json(&json!({"config": {key: value}}))
            .send()
            .await
            .unwrap();
        let message = refused(response, key).await;
        assert!(message.contains("reserved"), "{message}");
    }
    let response = client
        .post(api("/v2/fns"))
        .json(&json!({"app_id": app_id, "name": "f", "config": {"NODE_OPTIONS": "--require /tmp/x.js"}}))
        .send()
        .await
        .unwrap();
    refused(response, "NODE_OPTIONS").await;
    let f: Value = client
        .post(api("/v2/fns"))
        .json(&json!({"app_id": app_id, "name": "f"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fn_id = f["id"].as_str().unwrap();
    for (key, value) in [("FN_LISTENER", "unix:/tmp/x"), ("9LIVES", "x"), ("HOME", "/tmp")] {
        let response = client
            .put(api(&format!("/v2/fns/{fn_id}")))
            .json(&json!({"config": {key: value}}))
            .send()
            .await
            .unwrap();
        refused(response, key).await;
    }
    // OCI's 4 KB for all keys and values.
    let response = client
        .put(api(&format!("/v2/fns/{fn_id}")))
        .json(&json!({"config": {"BIG": "x".repeat(4096)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("more than the 4096 allowed"),
        "{body}"
    );
    // Nothing refused was stored.
    let app: Value = client
        .get(api(&format!("/v2/apps/{app_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["config"], json!({"GREETING": "hi"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_says_what_the_sandbox_enforces() {
    let server = Server::start();
    let sandbox = server.status().await["sandbox"].clone();
    let enforced: Vec<String> = serde_json::from_value(sandbox["enforced"].clone()).unwrap();
    let not_enforced: Vec<String> = serde_json::from_value(sandbox["not_enforced"].clone()).unwrap();
    let has = |list: &[String], text: &str| list.iter().any(|item| item.contains(text));
    for mechanism in ["namespaces", "no capabilities", "no_new_privs", "landlock", "seccomp"] {
        assert!(has(&enforced, mechanism), "{mechanism} missing from {enforced:#?}");
    }
    if is_root() {
        assert!(has(&enforced, "a uid per function"), "{enforced:#?}");
    }
    // Honest about what it does not do.
    assert!(has(&not_enforced, "UDP"), "{not_enforced:#?}");
    let out = server.cli_ok(Path::new("."), &["status"], None);
    assert!(out.contains("sandbox"), "{out}");
}

/// fngate run by an unprivileged user: a user namespace instead of a uid per function, and the
/// same attacks still fail. Runs when the tests run as root (as CI does), as `nobody`.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_run_as_nobody_sandboxes_functions_in_a_user_namespace() {
    if !is_root() {
        eprintln!("skipped: needs root to start a server as nobody");
        return;
    }
    let (uid, gid) = (65534, 65534);
    let tmp = tempfile::Builder::new().prefix("fngnobody").tempdir().unwrap();
    for dir in ["data", "envs", "pip-cache", "work"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
    }
    let chown = |path: &Path| std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    chown(tmp.path());
    for dir in ["data", "envs", "pip-cache", "work"] {
        chown(&tmp.path().join(dir));
    }
    let server = Server::start_with(ServerOptions {
        data: Some(tmp.path().join("data")),
        run_as: Some((uid, gid)),
        envs_dir: Some(tmp.path().join("envs")),
        pip_cache: Some(tmp.path().join("pip-cache")),
        ..ServerOptions::default()
    });
    let sandbox = server.status().await["sandbox"].clone();
    assert_eq!(sandbox["mode"], "user namespace (fngate is not root)", "{sandbox}");
    let work = tmp.path().join("work");
    let dir = attacker_dir(&server, &work, "unpriv", &server.data, "");
    let walk = walkdir(&dir);
    for path in walk {
        chown(&path);
    }
    server.cli_ok(&dir, &["deploy", "--app", "nobody", "--create-app"], None);
    let fn_id = server.fn_id("nobody", "unpriv").await;
    set_config(&server, &fn_id, json!({"SERVER_PID": server.pid().to_string()})).await;
    let status = result_of(&server, &fn_id, "status").await["result"].clone();
    assert_eq!(status["CapEff"], "0000000000000000", "{status}");
    assert_eq!(status["NoNewPrivs"], "1", "{status}");
    assert_eq!(status["Seccomp"], "2", "{status}");
    assert_eq!(status["pid"], 1, "{status}");
    assert!(status["Uid"].as_str().unwrap().starts_with("65534"), "{status}");
    let succeeded = successful_attacks(&server, &fn_id).await;
    assert!(succeeded.is_empty(), "attacks that worked: {succeeded:#?}");
    // No memory cgroup for nobody: shared anonymous memory is refused outright.
    let body = result_of(&server, &fn_id, "shared_memory").await;
    assert_eq!(body["result"]["succeeded"], false, "{body}");
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(walkdir(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}
