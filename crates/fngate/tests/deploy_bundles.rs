//! Deploy from anywhere: `fngate deploy` packs the function directory (honouring `.fnignore`),
//! uploads it through the admin API, here over HTTPS from a directory the server's data dir does
//! not contain, with the admin token and `--server-ca`; the server stores it by sha256, prepares
//! the environment (status `preparing`, then `ready`) and serves it. The size and entry caps
//! refuse with a clear error. (Redeploy with a call in flight: functions_python.rs
//! `pools_limit_reuse_and_redeploy`; hostile archives: fngate-functions tests/bundles.rs.)

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use support::*;

const LIST_PY: &str = r#"import io
import json
import os

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    here = os.path.dirname(os.path.abspath(__file__))
    files = sorted(os.path.relpath(os.path.join(d, f), here) for d, _, fs in os.walk(here) for f in fs)
    return response.Response(ctx, response_data=json.dumps({"files": files, "v": os.environ.get("V")}),
                             headers={"Content-Type": "application/json"})
"#;

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`: (ca, cert, key).
fn tls_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fngate test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("admin.crt"), dir.join("admin.key"));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// The CLI as a remote user runs it: `--server`, the token as a flag, an empty data dir of its
/// own (nothing shared with the server), in `dir`.
fn remote(server_url: &str, token: &str, extra: &[&str], dir: &Path, args: &[&str]) -> Output {
    let own = tempfile::tempdir().unwrap();
    fngate()
        .args(args)
        .args(["--server", server_url, "--admin-token", token])
        .args(extra)
        .arg("--data-dir")
        .arg(own.path().join("cli-data"))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The test's own admin client over HTTPS: the admin token, trusting only the test CA.
struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(server: &Server, ca: &Path) -> Admin {
        let certs = reqwest::Certificate::from_pem_bundle(&std::fs::read(ca).unwrap()).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = format!("Bearer {}", server.admin_token());
        headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().unwrap());
        let http = reqwest::Client::builder()
            .tls_certs_only(certs)
            .default_headers(headers)
            .build()
            .unwrap();
        Admin {
            http,
            base: server.admin(""),
        }
    }

    async fn status(&self) -> serde_json::Value {
        let url = format!("{}/fngate/functions/status", self.base);
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    async fn fn_status(&self, function: &str) -> serde_json::Value {
        self.status().await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["fn"] == function)
            .cloned()
            .unwrap_or_else(|| panic!("{function} missing from status"))
    }
}

fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_over_https_from_elsewhere_honours_fnignore_and_shows_preparing() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls_files(certs.path());
    let server = Server::start_with(ServerOptions {
        args: vec![
            "--admin-tls-cert".into(),
            cert.display().to_string(),
            "--admin-tls-key".into(),
            key.display().to_string(),
        ],
        ..ServerOptions::default()
    });
    let admin = server.admin("");
    assert!(admin.starts_with("https://"), "{admin}");
    let token = server.admin_token();
    let over_https = Admin::new(&server, &ca);
    let ca_flag = ["--server-ca", ca.to_str().unwrap()];

    // A function directory far from the server's data dir.
    let work = tempfile::tempdir().unwrap();
    assert!(!work.path().starts_with(&server.data));
    let dir = init(&server, work.path(), "python", "lister", false);
    std::fs::write(dir.join("func.py"), LIST_PY).unwrap();
    std::fs::write(dir.join(".fnignore"), "# not shipped\nsecret.txt\n*.log\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "hunter2").unwrap();
    std::fs::write(dir.join("debug.log"), "noise").unwrap();
    std::fs::create_dir_all(dir.join("lib/.git")).unwrap();
    std::fs::write(dir.join("lib/helper.txt"), "kept").unwrap();
    std::fs::write(dir.join("lib/.git/HEAD"), "ref").unwrap();
    // A fresh dependency hash: the environment is built (not reused), so `preparing` lasts.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let nonce = format!("\n# fresh environment {nanos}\n");
    let mut requirements = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    requirements.push_str(&nonce);
    std::fs::write(dir.join("requirements.txt"), requirements).unwrap();

    // Without the CA the server's certificate is not trusted: refused, nothing sent.
    let out = remote(&admin, &token, &[], &dir, &["deploy", "--app", "far", "--create-app"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).to_lowercase().contains("certificate"), "{}", text(&out));
    // A wrong token: 401, named.
    let out = remote(&admin, "nope", &ca_flag, &dir, &["list", "apps"]);
    assert!(
        !out.status.success() && text(&out).contains("refused the admin token"),
        "{}",
        text(&out)
    );

    // Deploy, watching the status while it prepares.
    let deploy = {
        let (admin, token, dir, ca) = (admin.clone(), token.clone(), dir.clone(), ca.clone());
        std::thread::spawn(move || {
            remote(
                &admin,
                &token,
                &["--server-ca", ca.to_str().unwrap()],
                &dir,
                &["deploy", "--app", "far", "--create-app"],
            )
        })
    };
    let mut saw_preparing = false;
    while !deploy.is_finished() {
        let status = over_https.status().await;
        saw_preparing |= status["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["fn"] == "lister" && i["state"] == "preparing" && i["preparing_version"] == "0.0.2");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = deploy.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(saw_preparing, "status never showed the function preparing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".fnignore applied") && stderr.contains("sha256:"),
        "{stderr}"
    );
    let status = over_https.fn_status("lister").await;
    assert_eq!(status["state"], "ready", "{status}");
    let digest = status["bundle"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:") && stderr.contains(&digest), "{status}");
    assert!(
        std::fs::read_to_string(dir.join("func.yaml"))
            .unwrap()
            .contains("version: 0.0.2")
    );

    // What runs is what was packed, minus what .fnignore and the defaults leave out.
    let out = remote(&admin, &token, &ca_flag, &dir, &["invoke", "far", "lister"]);
    assert!(out.status.success(), "{}", text(&out));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = answer["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"func.py") && files.contains(&"lib/helper.txt"),
        "{files:?}"
    );
    for left_out in ["secret.txt", "debug.log", "lib/.git/HEAD"] {
        assert!(!files.contains(&left_out), "{left_out} shipped: {files:?}");
    }
    // Every other command works remotely too.
    let out = remote(&admin, &token, &ca_flag, &dir, &["status"]);
    assert!(out.status.success() && text(&out).contains("lister"), "{}", text(&out));
    let out = remote(&admin, &token, &ca_flag, &dir, &["logs", "far", "lister"]);
    assert!(out.status.success(), "{}", text(&out));

    // The same code twice (func.yaml's version was bumped since): one digest, stored once.
    let out = remote(&admin, &token, &ca_flag, &dir, &["deploy", "--app", "far", "--no-bump"]);
    assert!(out.status.success(), "{}", text(&out));
    let second = over_https.fn_status("lister").await["bundle"].clone();
    assert_ne!(second, digest.as_str(), "func.yaml changed");
    let out = remote(&admin, &token, &ca_flag, &dir, &["deploy", "--app", "far", "--no-bump"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already stored"), "{}", text(&out));
    assert_eq!(over_https.fn_status("lister").await["bundle"], second);
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_caps_refuse_with_a_clear_error() {
    let server = Server::start_with(ServerOptions {
        args: vec![
            "--max-bundle-mib".into(),
            "1".into(),
            "--max-bundle-entries".into(),
            "30".into(),
        ],
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "big", false);
    // 2 MiB that do not compress.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(dir.join("data.bin"), &noise).unwrap();

    // The server's cap (the CLI's own default is 64 MiB): 413 with the limit and the flag.
    let out = server.cli(&dir, &["deploy", "--app", "caps", "--create-app"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("413") && err.contains("larger than the 1 MiB this server takes (fngate up --max-bundle-mib)"),
        "{err}"
    );
    // The CLI's own cap refuses before uploading.
    let out = server.cli(
        &dir,
        &["deploy", "--app", "caps", "--create-app", "--max-bundle-mib", "1"],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("larger than 1.0 MiB (--max-bundle-mib)"),
        "{err}"
    );

    // Listed in .fnignore, it no longer ships; too many entries is refused by the server.
    std::fs::write(dir.join(".fnignore"), "data.bin\n").unwrap();
    for i in 0..40 {
        std::fs::write(dir.join(format!("f{i}.txt")), "x").unwrap();
    }
    let out = server.cli(&dir, &["deploy", "--app", "caps", "--create-app"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("more than 30 entries (fngate up --max-bundle-entries)"),
        "{err}"
    );
    std::fs::write(dir.join(".fnignore"), "data.bin\nf*.txt\n").unwrap();
    let out = server.cli(&dir, &["deploy", "--app", "caps", "--create-app"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.fn_status("caps", "big").await["state"], "ready");

    // The admin API takes bundles only, and only with the admin token.
    let r = reqwest::Client::new()
        .post(server.admin("/fngate/functions/deploy?app=caps"))
        .header("content-type", "application/gzip")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .http()
        .post(server.admin("/fngate/functions/deploy?app=caps"))
        .json(&serde_json::json!({"app": "caps", "dir": dir}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "a path-based deploy is gone");
    let r = server
        .http()
        .post(server.admin("/fngate/functions/deploy?app=caps"))
        .header("content-type", "application/gzip")
        .body(vec![0u8; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_code_is_gone_restores_it_from_the_stored_bundle() {
    let mut server = Server::start_with(ServerOptions {
        ports: Some(Ports::free()),
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    let dir = init(&server, work.path(), "python", "phoenix", false);
    server.cli_ok(&dir, &["deploy", "--app", "store", "--create-app"], None);
    let fn_id = server.fn_id("store", "phoenix").await;
    let (ports, data) = (server.ports(), server.data.clone());
    server.terminate();
    // Only the store is left of the deploy: the unpacked code is wiped, and so is the client's copy.
    std::fs::remove_dir_all(data.join("functions/code")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = Server::start_with(ServerOptions {
        ports: Some(ports),
        data: Some(data),
        ..ServerOptions::default()
    });
    let r = server.invoker(&fn_id).post("", &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Hello"));
    assert_eq!(server.fn_status("store", "phoenix").await["state"], "ready");
}
