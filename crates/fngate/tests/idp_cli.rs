//! `fngate idp …` end to end: the real binary runs `idp serve` on ephemeral ports over a temp data
//! dir, and the CLI registers apps, clients, secrets, rotates keys and gets tokens through it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

struct Server {
    child: Child,
    idp: String,
    admin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fngate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fngate"));
    command
        .env_remove("FNGATE_SERVER")
        .env_remove("FNGATE_ADMIN_TOKEN")
        .env_remove("FNGATE_IDP");
    command
}

fn start(data_dir: &Path) -> Server {
    let mut child = fngate()
        .args([
            "idp",
            "serve",
            "--idp-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut idp, mut admin) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("idp"), Some(url)) => idp = url.to_string(),
            (Some("admin"), Some(url)) => admin = url.to_string(),
            _ => {}
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    assert!(
        !idp.is_empty() && !admin.is_empty(),
        "idp serve did not print its addresses"
    );
    Server { child, idp, admin }
}

fn cli(server: &Server, data_dir: &Path, args: &[&str]) -> Output {
    fngate()
        .args(["--server", &server.admin, "--data-dir"])
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(output: Output) -> Value {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn register_grant_get_token_rotate_and_manage_secrets_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = start(data);

    let app = ok_json(cli(
        &server,
        data,
        &[
            "idp",
            "app",
            "create",
            "orders",
            "--identifier-uri",
            "api://orders",
            "--role",
            "Orders.Read",
            "--scope",
            "access_as_user",
            "--token-version",
            "2",
            "-o",
            "json",
        ],
    ));
    assert_eq!(app[0]["identifier_uri"], "api://orders");
    assert_eq!(app[0]["token_version"], 2);

    let created = ok_json(cli(
        &server,
        data,
        &[
            "idp",
            "client",
            "create",
            "daemon",
            "--grant",
            "orders/Orders.Read",
            "-o",
            "json",
        ],
    ));
    let client_id = created["client"]["client_id"].as_str().unwrap().to_string();
    let secret = created["secret"]["value"].as_str().unwrap().to_string();
    assert_eq!(created["client"]["grants"][0]["role"], "Orders.Read");

    // A quick token, as printed for scripts: one JWT on stdout.
    let token = cli(
        &server,
        data,
        &[
            "idp",
            "token",
            "--idp",
            &server.idp,
            "--client-id",
            &client_id,
            "--client-secret",
            &secret,
            "--scope",
            "api://orders/.default",
        ],
    );
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let jwt = String::from_utf8(token.stdout).unwrap();
    assert_eq!(jwt.trim().split('.').count(), 3, "{jwt}");

    // Over HTTPS on the same port, trusting the server's CA.
    let https_idp = server.idp.replace("http://127.0.0.1", "https://localhost");
    let response = ok_json(cli(
        &server,
        data,
        &[
            "idp",
            "token",
            "--idp",
            &https_idp,
            "--client-id",
            &client_id,
            "--client-secret",
            &secret,
            "--scope",
            "api://orders/.default",
            "-o",
            "json",
        ],
    ));
    assert_eq!(response["token_type"], "Bearer");
    assert_eq!(response["expires_in"], 3599);

    // A wrong secret: non-zero exit and Entra's code in the message.
    let wrong = cli(
        &server,
        data,
        &[
            "idp",
            "token",
            "--idp",
            &server.idp,
            "--client-id",
            &client_id,
            "--client-secret",
            "nope",
            "--scope",
            "api://orders/.default",
        ],
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("AADSTS7000215"));

    // Secrets: add, list (no values), remove.
    let added = ok_json(cli(
        &server,
        data,
        &["idp", "secret", "add", "daemon", "--expires-days", "30", "-o", "json"],
    ));
    let listed = ok_json(cli(&server, data, &["idp", "secret", "list", "daemon", "-o", "json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret), "listing never shows values");
    let removed = cli(
        &server,
        data,
        &["idp", "secret", "remove", "daemon", added["id"].as_str().unwrap()],
    );
    assert!(removed.status.success());
    let missing = cli(&server, data, &["idp", "secret", "remove", "daemon", "no-such-id"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no secret with id"));

    // A grant of a role the API does not define is refused with the reason.
    let bad = cli(
        &server,
        data,
        &["idp", "client", "grant", "daemon", "orders/Orders.Delete"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has no app role \"Orders.Delete\""));

    // Keys: rotation publishes two keys.
    let keys = ok_json(cli(
        &server,
        data,
        &["idp", "keys", "rotate", "--overlap", "600", "-o", "json"],
    ));
    assert_eq!(keys.as_array().unwrap().len(), 2);

    let overview = ok_json(cli(&server, data, &["idp", "list", "-o", "json"]));
    assert_eq!(overview["api_apps"][0]["name"], "orders");
    assert_eq!(overview["clients"][0]["name"], "daemon");
    assert_eq!(overview["keys"].as_array().unwrap().len(), 2);

    let ca = cli(&server, data, &["idp", "ca"]);
    let ca_path = String::from_utf8(ca.stdout).unwrap();
    assert!(
        std::fs::read_to_string(ca_path.trim())
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
}

#[test]
fn cli_without_a_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = fngate()
        .args(["--server", "http://127.0.0.1:9", "--data-dir"])
        .arg(dir.path())
        .args(["idp", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no fngate server is running"));
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(dir.path());
    let second = fngate()
        .args([
            "idp",
            "serve",
            "--idp-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already in use"));
}
