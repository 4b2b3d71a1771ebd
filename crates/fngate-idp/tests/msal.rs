//! Microsoft's MSAL for Python (the real `msal` from PyPI) gets tokens from the IdP over HTTPS,
//! trusting the exported CA; the tokens validate against the served JWKS.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;

/// `$FNGATE_TEST_TOOLS/venv/bin/python`, installed by scripts/test.sh.
fn python() -> PathBuf {
    let tools = std::env::var_os("FNGATE_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools"));
    let python = tools.join("venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import msal"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} with the `msal` package is missing: run scripts/test.sh once (it installs the test tools)",
        python.display()
    );
    python
}

const SCRIPT: &str = r#"
import json, sys, msal
authority, client_id, secret, scope, ca, discovery = sys.argv[1:7]
kwargs = {"instance_discovery": False} if discovery == "off" else {"instance_discovery": discovery}
app = msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=authority, verify=ca, **kwargs)
first = app.acquire_token_for_client(scopes=[scope])
second = app.acquire_token_for_client(scopes=[scope])
print(json.dumps({"first": first, "second_source": second.get("token_source")}))
"#;

async fn run_msal(
    python: &PathBuf,
    authority: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
    ca: &str,
    discovery: &str,
) -> Value {
    // tokio's Command: the IdP under test runs on this same runtime.
    let output = tokio::process::Command::new(python)
        .args(["-c", SCRIPT, authority, client_id, secret, scope, ca, discovery])
        // requests lets these override `verify=`; point them at the dev CA too.
        .env("REQUESTS_CA_BUNDLE", ca)
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "msal script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn msal_confidential_client_gets_valid_tokens_over_https() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 2).await;
    let tid = idp.tid();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let authority = format!("{}/{tid}", idp.https_base());
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");

    // Without instance discovery (the usual setting for a non-Microsoft host) ...
    let off = run_msal(
        &python,
        &authority,
        &client.client.client_id,
        &client.secret.value,
        "api://orders/.default",
        &ca,
        "off",
    )
    .await;
    let first = &off["first"];
    assert_eq!(first["token_type"], "Bearer", "{first}");
    assert_eq!(first["token_source"], "identity_provider");
    assert_eq!(off["second_source"], "cache", "MSAL caches the token using expires_in");
    let claims = verify(first["access_token"].as_str().unwrap(), &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(claims["azp"], client.client.client_id);
    assert_eq!(claims["roles"], serde_json::json!(["Orders.Read"]));

    // ... and with MSAL's instance discovery pointed at this server.
    let discovery = format!("{}/common/discovery/instance", idp.https_base());
    let on = run_msal(
        &python,
        &authority,
        &client.client.client_id,
        &client.secret.value,
        "api://orders/.default",
        &ca,
        &discovery,
    )
    .await;
    let token = on["first"]["access_token"].as_str().unwrap_or_else(|| panic!("{on}"));
    verify(token, &keys, &issuer, &api.client_id).unwrap();

    // A wrong secret comes back as Entra's error, which MSAL hands over as a dict.
    let wrong = run_msal(
        &python,
        &authority,
        &client.client.client_id,
        "wrong",
        "api://orders/.default",
        &ca,
        "off",
    )
    .await;
    assert_eq!(wrong["first"]["error"], "invalid_client");
    assert_eq!(wrong["first"]["error_codes"], serde_json::json!([7000215]));
    assert!(
        wrong["first"]["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: ")
    );
    idp.stop().await;
}
