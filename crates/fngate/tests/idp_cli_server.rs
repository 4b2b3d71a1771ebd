//! `fngate idp token --server URL` asks that server's own IdP (issue #13 item 4): with two
//! servers on non-default ports, each token comes from the server named, not from whatever
//! listens on 127.0.0.1:8082.

mod support;

use base64::Engine;
use serde_json::Value;
use support::Server;

fn ok_json(output: std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Registers `orders` and a client on `server`; returns (tenant id, client id, secret).
fn register(server: &Server, dir: &std::path::Path) -> (String, String, String) {
    ok_json(server.cli(
        dir,
        &[
            "idp",
            "app",
            "create",
            "orders",
            "--identifier-uri",
            "api://orders",
            "-o",
            "json",
        ],
        None,
    ));
    let created = ok_json(server.cli(dir, &["idp", "client", "create", "daemon", "-o", "json"], None));
    (
        created["client"]["tenant_id"].as_str().unwrap().to_string(),
        created["client"]["client_id"].as_str().unwrap().to_string(),
        created["secret"]["value"].as_str().unwrap().to_string(),
    )
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.trim().split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn idp_token_needs_only_server_and_asks_that_servers_idp() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = Server::start_idp(dir_a.path());
    let b = Server::start_idp(dir_b.path());
    let (tid_a, _, _) = register(&a, dir_a.path());
    let (tid_b, client_b, secret_b) = register(&b, dir_b.path());
    assert_ne!(tid_a, tid_b);

    // The admin API reports where the IdP listens.
    let overview = ok_json(b.cli(dir_b.path(), &["idp", "list", "-o", "json"], None));
    assert_eq!(overview["idp_url"], b.idp(""));

    // No --idp: the token comes from B's IdP, for B's tenant.
    let token = b.cli(
        dir_b.path(),
        &[
            "idp",
            "token",
            "--client-id",
            &client_b,
            "--client-secret",
            &secret_b,
            "--scope",
            "api://orders/.default",
        ],
        None,
    );
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let claims = claims(&String::from_utf8(token.stdout).unwrap());
    assert_eq!(claims["tid"], tid_b.as_str());
    assert_eq!(
        claims["azp"].as_str().or(claims["appid"].as_str()),
        Some(client_b.as_str())
    );

    // B's client is unknown to A: asking A (by --server alone) gets A's refusal, naming A's tenant.
    let wrong = a.cli(
        dir_a.path(),
        &[
            "idp",
            "token",
            "--client-id",
            &client_b,
            "--client-secret",
            &secret_b,
            "--scope",
            "api://orders/.default",
        ],
        None,
    );
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("AADSTS700016") && stderr.contains(&tid_a), "{stderr}");
}

#[test]
fn certificates_redirect_uris_and_users_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = Server::start_idp(data);
    let (key, cert) = (data.join("key.pem"), data.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=web",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    ok_json(server.cli(
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
            "-o",
            "json",
        ],
        None,
    ));
    let created = ok_json(server.cli(
        data,
        &[
            "idp",
            "client",
            "create",
            "web",
            "--certificate",
            cert.to_str().unwrap(),
            "--spa-redirect-uri",
            "http://localhost:3000/",
            "-o",
            "json",
        ],
        None,
    ));
    let client = &created["client"];
    assert_eq!(client["certificates"][0]["subject"], "CN=web");
    assert_eq!(client["certificates"][0]["thumbprint"].as_str().unwrap().len(), 40);
    assert_eq!(
        client["redirect_uris"][0],
        serde_json::json!({"uri": "http://localhost:3000/", "platform": "spa"})
    );
    // A private key is not a certificate; an http redirect URI off loopback is refused.
    let bad = server.cli(data, &["idp", "cert", "add", "web", key.to_str().unwrap()], None);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("private key"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad = server.cli(
        data,
        &[
            "idp",
            "client",
            "update",
            "web",
            "--redirect-uri",
            "http://example.com/cb",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must use https"));
    let thumbprint = client["certificates"][0]["thumbprint"].as_str().unwrap().to_string();
    assert!(
        server
            .cli(data, &["idp", "cert", "remove", "web", &thumbprint], None)
            .status
            .success()
    );
    let listed = ok_json(server.cli(data, &["idp", "cert", "list", "web", "-o", "json"], None));
    assert_eq!(listed, serde_json::json!([]));

    // Users: groups are created on demand, assignments name API/ROLE; the password never comes back.
    let alice = ok_json(server.cli(
        data,
        &[
            "idp",
            "user",
            "create",
            "alice",
            "--password",
            "correct horse",
            "--display-name",
            "Alice Smith",
            "--group",
            "Sales",
            "--assign",
            "orders/Orders.Read",
            "-o",
            "json",
        ],
        None,
    ));
    assert_eq!(alice["user"]["display_name"], "Alice Smith");
    assert_eq!(alice["user"]["upn"], "alice@default.onmicrosoft.com");
    assert_eq!(alice["user"]["groups"][0]["name"], "Sales");
    assert_eq!(alice["user"]["assignments"], serde_json::json!(["orders/Orders.Read"]));
    assert!(alice["password"].is_null());
    let bob = ok_json(server.cli(
        data,
        &["idp", "user", "create", "bob", "--group", "Sales", "-o", "json"],
        None,
    ));
    assert_eq!(
        bob["password"].as_str().unwrap().len(),
        20,
        "a generated password, shown once"
    );
    assert_eq!(
        bob["user"]["groups"][0]["object_id"],
        alice["user"]["groups"][0]["object_id"]
    );
    let users = ok_json(server.cli(data, &["idp", "user", "list", "-o", "json"], None));
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert!(!users.to_string().contains("argon2"), "no hashes in listings");
    let short = server.cli(data, &["idp", "user", "create", "carol", "--password", "short"], None);
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("8 to 256 characters"));
    assert!(
        server
            .cli(data, &["idp", "user", "delete", "bob"], None)
            .status
            .success()
    );
}
