//! `https://` key URIs against the real `fngate up` (issue #13, item 3): the gateway trusts its own
//! IdP's local CA, so a spec whose JWKS URI is `https://localhost:<idp>/…` serves real IdP tokens;
//! `--trust-ca FILE` adds a CA for another server; and `gateway validate --server-check` fetches
//! every JWKS URI, reporting an untrusted one at its JSON path with a non-zero exit (and `deploy`
//! warns about it).

mod support;

use std::path::Path;

use fngate_test_jwt::TlsJwksServer;
use serde_json::{Value, json};
use support::*;

/// An API `jwks-api` and a client granted its role; returns (tenant, client id, secret).
fn register(server: &Server, dir: &Path) -> (String, String, String) {
    server.cli_ok(
        dir,
        &[
            "idp",
            "app",
            "create",
            "jwks-api",
            "--identifier-uri",
            "api://jwks-api",
            "--role",
            "Api.Read",
        ],
        None,
    );
    let created: Value = serde_json::from_str(&server.cli_ok(
        dir,
        &[
            "idp",
            "client",
            "create",
            "jwks-client",
            "--grant",
            "jwks-api/Api.Read",
            "--output",
            "json",
        ],
        None,
    ))
    .unwrap();
    let overview: Value =
        serde_json::from_str(&server.cli_ok(dir, &["idp", "list", "--output", "json"], None)).unwrap();
    (
        overview["default_tenant_id"].as_str().unwrap().to_string(),
        created["client"]["client_id"].as_str().unwrap().to_string(),
        created["secret"]["value"].as_str().unwrap().to_string(),
    )
}

fn spec(jwks_uri: &str, tenant: &str) -> Value {
    json!({
        "requestPolicies": {"authentication": {
            "type": "TOKEN_AUTHENTICATION", "tokenHeader": "Authorization", "tokenAuthScheme": "Bearer",
            "validationPolicy": {"type": "REMOTE_JWKS", "uri": jwks_uri,
                "additionalValidationPolicy": {
                    "issuers": [format!("https://sts.windows.net/{tenant}/")],
                    "audiences": ["api://jwks-api"]}}}},
        "routes": [{"path": "/who", "methods": ["GET"],
            "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "you are known"}}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn https_jwks_uris_use_the_idp_ca_the_trusted_cas_and_are_checked_by_validate() {
    let key = &fngate_test_jwt::keys()[0];
    let trusted = TlsJwksServer::start(&[key]).await;
    let untrusted = TlsJwksServer::start(&[key]).await;
    let work = tempfile::tempdir().unwrap();
    let ca_file = work.path().join("extra-ca.pem");
    std::fs::write(&ca_file, &trusted.ca_pem).unwrap();
    let server = Server::start_with(ServerOptions {
        args: vec!["--trust-ca".into(), ca_file.display().to_string()],
        ..ServerOptions::default()
    });
    let (tenant, client, secret) = register(&server, work.path());
    let idp_port = server.ports().idp;
    let idp_jwks = format!("https://localhost:{idp_port}/{tenant}/discovery/v2.0/keys");

    // The IdP's own https JWKS: validate fetches it, deploy serves it, a real token gets in.
    let write = |name: &str, spec: &Value| {
        let path = work.path().join(name);
        std::fs::write(&path, spec.to_string()).unwrap();
        path.display().to_string()
    };
    let own = write("own.json", &spec(&idp_jwks, &tenant));
    server.cli_ok(
        work.path(),
        &["gateway", "validate", "--server-check", "--spec", &own],
        None,
    );
    server.cli_ok(
        work.path(),
        &[
            "gateway",
            "deploy",
            "--name",
            "own",
            "--path-prefix",
            "/own",
            "--spec",
            &own,
        ],
        None,
    );
    let http = reqwest::Client::new();
    let token: Value = http
        .post(server.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "api://jwks-api/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("a token").to_string();
    let response = http
        .get(server.gateway("/own/who"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        (status.as_u16(), response.text().await.unwrap().as_str()),
        (200, "you are known")
    );

    // A server whose CA came by --trust-ca: valid. One whose CA nobody trusts: an error at the
    // URI's JSON path, exit non-zero.
    let extra = write("extra.json", &spec(&trusted.uri("/keys"), &tenant));
    server.cli_ok(
        work.path(),
        &["gateway", "validate", "--server-check", "--spec", &extra],
        None,
    );
    let unknown = write("unknown.json", &spec(&untrusted.uri("/keys"), &tenant));
    let out = server.cli(
        work.path(),
        &["gateway", "validate", "--server-check", "--spec", &unknown],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{unknown}: error: requestPolicies.authentication.validationPolicy.uri: the keys cannot be fetched: GET {}",
            untrusted.uri("/keys")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("UnknownIssuer") || stderr.contains("certificate"),
        "{stderr}"
    );
    // Deploy still accepts it (OCI serves such a deployment with 500s), but says why.
    let out = server.cli(
        work.path(),
        &[
            "gateway",
            "deploy",
            "--name",
            "unknown",
            "--path-prefix",
            "/unknown",
            "--spec",
            &unknown,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{unknown}: warning: requestPolicies.authentication: the keys at {} cannot be fetched",
            untrusted.uri("/keys")
        )),
        "{stderr}"
    );
    // Offline validation cannot fetch and does not pretend to.
    server.cli_ok(work.path(), &["gateway", "validate", "--spec", &unknown], None);

    // A --trust-ca file that holds no certificate stops `fngate up` with its name.
    let bad = work.path().join("not-a-ca.pem");
    std::fs::write(&bad, "hello").unwrap();
    let out = fngate_up_on_free_ports(&work.path().join("other-data"))
        .arg("--trust-ca")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("--trust-ca {}: no certificate", bad.display())),
        "{stderr}"
    );
}
