//! Secrets at rest and other local users: the data directory is 0700 and every file in it 0600,
//! narrowed on start when an older version left them wider (the SQLite WAL and SHM files, the IdP's
//! CA key, the tokens, logs and the lock included); another local user (`nobody`, run with
//! `setpriv`) can read none of it and can neither deploy nor call the control plane.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

const NOBODY: u32 = 65534;

/// Runs `program args` as `nobody` (no supplementary groups).
fn as_nobody(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
            program,
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("FNGATE_ADMIN_TOKEN")
        .env_remove("FNGATE_SERVER")
        .output()
        .expect("setpriv (util-linux) runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every directory and file under `data`, but the runtime's own trees (prepared environments,
/// code snapshots, instance sockets), which keep their modes under 0700 directories.
fn tree(data: &Path) -> Vec<PathBuf> {
    let mut all = vec![data.to_path_buf()];
    let mut pending = vec![data.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(data).unwrap();
            if ["functions/envs", "functions/code", "functions/run"]
                .iter()
                .any(|owned| relative == Path::new(owned))
            {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path.clone());
            }
            if meta.is_dir() || meta.is_file() {
                all.push(path);
            }
        }
    }
    all
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_dir_is_private_and_a_local_user_can_neither_read_nor_deploy() {
    // Only the data directory's own modes may stand between nobody and the secrets: the temp dir
    // above it is opened up (tempfile makes it 0700).
    let tmp = tempfile::Builder::new().prefix("fng-local").tempdir().unwrap();
    set_mode(tmp.path(), 0o755);
    let data = tmp.path().join("data");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();

    // A server that deploys, runs and logs a function, then stops.
    let mut first = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    let dir = init(&first, &work, "python", "hello", true);
    first.cli_ok(&dir, &["deploy", "--app", "private", "--create-app"], None);
    first.cli_ok(&dir, &["invoke", "private", "hello"], None);
    assert!(first.terminate().success());

    // An older fngate left everything world-readable.
    for path in tree(&data) {
        set_mode(&path, if path.is_dir() { 0o755 } else { 0o644 });
    }
    assert_eq!(mode(&data.join("admin-token")), 0o644);

    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    server.cli_ok(&dir, &["invoke", "private", "hello"], None);
    // While it runs (SQLite's -wal and -shm files exist now), everything is owner-only.
    let paths = tree(&data);
    let relative: Vec<String> = paths
        .iter()
        .map(|p| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for expected in [
        "fngate.db",
        "fngate.db-wal",
        "fngate.db-shm",
        "fngate.lock",
        "admin-token",
        "metrics-token",
        "idp/ca-key.pem",
        "idp/ca.pem",
        "functions/logs",
    ] {
        assert!(
            relative.iter().any(|r| r == expected),
            "{expected} missing from {relative:?}"
        );
    }
    assert!(
        relative
            .iter()
            .any(|r| r.starts_with("functions/logs/") && r.ends_with(".log")),
        "{relative:?}"
    );
    for path in &paths {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), want, "{}", path.display());
        assert_eq!(std::fs::metadata(path).unwrap().uid(), nix::unistd::geteuid().as_raw());
    }

    // nobody reads no secret: not the tokens, the database, the CA key, the logs or the code.
    let code = std::fs::read_dir(data.join("functions/code"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for secret in [
        data.join("admin-token"),
        data.join("metrics-token"),
        data.join("fngate.db"),
        data.join("fngate.db-wal"),
        data.join("idp/ca-key.pem"),
        code.join("func.py"),
    ] {
        let out = as_nobody(tmp.path(), "cat", &[secret.to_str().unwrap()]);
        assert!(
            !out.status.success(),
            "nobody read {}: {}",
            secret.display(),
            text(&out)
        );
        assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    }
    assert!(!as_nobody(tmp.path(), "ls", &[data.to_str().unwrap()]).status.success());

    // nobody's own function directory, deployed with the CLI: refused, with what to do.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = as_nobody(&theirs, BIN, &["init", "--runtime", "python", "evil"]);
    assert!(out.status.success(), "{}", text(&out));
    let evil = theirs.join("evil");
    let pwned = theirs.join("pwned");
    let payload = format!("import os\nos.system('id > {}')\n", pwned.display());
    std::fs::write(evil.join("func.py"), payload).unwrap();
    let admin = server.admin("");
    let data_arg = data.to_str().unwrap();
    let deploy = [
        "deploy",
        "--app",
        "evil",
        "--create-app",
        "--server",
        &admin,
        "--data-dir",
        data_arg,
    ];
    let out = as_nobody(&evil, BIN, &deploy);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("needs the admin token, and the CLI has none"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    let mut guessed = deploy.to_vec();
    guessed.extend([
        "--admin-token",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ]);
    let out = as_nobody(&evil, BIN, &guessed);
    assert!(!out.status.success());
    assert!(text(&out).contains("refused the admin token"), "{}", text(&out));
    // Straight at the listeners, bypassing the CLI: the same 401.
    for url in [server.admin("/fngate/functions/status"), server.functions("/v2/apps")] {
        let out = as_nobody(
            tmp.path(),
            "/usr/bin/python3",
            &[
                "-c",
                "import sys, urllib.request, urllib.error\ntry:\n    urllib.request.urlopen(sys.argv[1])\nexcept urllib.error.HTTPError as e:\n    print(e.code)",
                &url,
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "401",
            "{url}: {}",
            text(&out)
        );
    }
    let apps = server.cli_ok(&dir, &["list", "apps"], None);
    assert!(!apps.contains("evil"), "{apps}");
    assert!(!pwned.exists(), "nobody's code ran");
}

#[test]
fn a_data_dir_owned_by_another_user_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut child = fngate()
        .args(["up", "--gateway-addr", "127.0.0.1:0", "--functions-addr", "127.0.0.1:0"])
        .args(["--idp-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It must refuse at once; a server that starts anyway is stopped and fails the test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fngate up started on a data dir owned by uid {NOBODY}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains(&format!("is owned by uid {NOBODY}")), "{stderr}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "nothing written into it");
}
