//! `fngate idp …` end to end: the real binary runs `idp serve` on ephemeral ports over a temp data
//! dir, and the CLI registers apps, clients, secrets, rotates keys and gets tokens through it.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{Server, fngate};

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
    let server = Server::start_idp(data);

    let app = ok_json(server.cli(
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
        None,
    ));
    assert_eq!(app[0]["identifier_uri"], "api://orders");
    assert_eq!(app[0]["token_version"], 2);

    let created = ok_json(server.cli(
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
        None,
    ));
    let client_id = created["client"]["client_id"].as_str().unwrap().to_string();
    let secret = created["secret"]["value"].as_str().unwrap().to_string();
    assert_eq!(created["client"]["grants"][0]["role"], "Orders.Read");

    // A quick token, as printed for scripts: one JWT on stdout.
    let token = server.cli(
        data,
        &[
            "idp",
            "token",
            "--idp",
            &server.idp(""),
            "--client-id",
            &client_id,
            "--client-secret",
            &secret,
            "--scope",
            "api://orders/.default",
        ],
        None,
    );
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let jwt = String::from_utf8(token.stdout).unwrap();
    assert_eq!(jwt.trim().split('.').count(), 3, "{jwt}");

    // Over HTTPS on the same port, trusting the server's CA.
    let https_idp = server.idp("").replace("http://127.0.0.1", "https://localhost");
    let response = ok_json(server.cli(
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
        None,
    ));
    assert_eq!(response["token_type"], "Bearer");
    assert_eq!(response["expires_in"], 3599);

    // A wrong secret: non-zero exit and Entra's code in the message.
    let wrong = server.cli(
        data,
        &[
            "idp",
            "token",
            "--idp",
            &server.idp(""),
            "--client-id",
            &client_id,
            "--client-secret",
            "nope",
            "--scope",
            "api://orders/.default",
        ],
        None,
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("AADSTS7000215"));

    // Secrets: add, list (no values), remove.
    let added = ok_json(server.cli(
        data,
        &["idp", "secret", "add", "daemon", "--expires-days", "30", "-o", "json"],
        None,
    ));
    let listed = ok_json(server.cli(data, &["idp", "secret", "list", "daemon", "-o", "json"], None));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret), "listing never shows values");
    let removed = server.cli(
        data,
        &["idp", "secret", "remove", "daemon", added["id"].as_str().unwrap()],
        None,
    );
    assert!(removed.status.success());
    let missing = server.cli(data, &["idp", "secret", "remove", "daemon", "no-such-id"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no secret with id"));

    // A grant of a role the API does not define is refused with the reason.
    let bad = server.cli(
        data,
        &["idp", "client", "grant", "daemon", "orders/Orders.Delete"],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("has no app role \"Orders.Delete\""));

    // Keys: rotation publishes two keys.
    let keys = ok_json(server.cli(data, &["idp", "keys", "rotate", "--overlap", "600", "-o", "json"], None));
    assert_eq!(keys.as_array().unwrap().len(), 2);

    let overview = ok_json(server.cli(data, &["idp", "list", "-o", "json"], None));
    assert_eq!(overview["api_apps"][0]["name"], "orders");
    assert_eq!(overview["clients"][0]["name"], "daemon");
    assert_eq!(overview["keys"].as_array().unwrap().len(), 2);

    let ca = server.cli(data, &["idp", "ca"], None);
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
    let _first = Server::start_idp(dir.path());
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
