//! Certificate credentials from the other real clients: azure-identity's `CertificateCredential`
//! (a PEM with key and certificate) and msal-node's `clientCertificate` (SHA-256 thumbprint, so
//! PS256 with `x5t#S256`). Each signs its RFC 7523 assertion itself, as against Entra.

mod certs;
mod common;
mod tools;

use std::path::PathBuf;

use certs::Cert;
use common::*;

const AZURE_IDENTITY: &str = r#"
import json, sys
from azure.identity import CertificateCredential
authority, tenant, client_id, pem_file, scope, ca = sys.argv[1:7]
cred = CertificateCredential(tenant, client_id, certificate_path=pem_file, authority=authority,
                             disable_instance_discovery=True, connection_verify=ca)
print(json.dumps({"token": cred.get_token(scope).token}))
"#;

const MSAL_NODE: &str = r#"
const msal = require('@azure/msal-node');
const [authority, clientId, thumbprintSha256, privateKey, scope] = process.argv.slice(1);
const app = new msal.ConfidentialClientApplication({ auth: { clientId, authority,
  knownAuthorities: [new URL(authority).host], clientCertificate: { thumbprintSha256, privateKey } } });
app.acquireTokenByClientCredential({ scopes: [scope] })
  .then((r) => console.log(JSON.stringify({ token: r.accessToken })))
  .catch((err) => { console.error(err); process.exit(1); });
"#;

fn node_modules() -> PathBuf {
    let tools = std::env::var_os("FNGATE_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools"));
    let modules = tools.join("node/node_modules");
    assert!(
        modules.join("@azure/msal-node/package.json").exists(),
        "{} has no @azure/msal-node: run scripts/test.sh once (it installs the test tools)",
        modules.display()
    );
    modules
}

#[tokio::test]
async fn azure_identity_and_msal_node_authenticate_with_a_certificate() {
    let python = tools::python_with("azure.identity");
    let modules = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 2).await;
    let tid = idp.tid();
    let id = client.client.client_id.clone();
    let cert = Cert::registered(&idp.idp, &id, "daemon").await;
    let pem_file = dir.path().join("daemon.pem");
    std::fs::write(&pem_file, format!("{}{}", cert.key_pem, cert.cert_pem)).unwrap();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");

    let out = tools::run_json(
        &python,
        AZURE_IDENTITY,
        &[
            &idp.https_base(),
            &tid,
            &id,
            pem_file.to_str().unwrap(),
            "api://orders/.default",
            &ca,
        ],
        &ca,
    )
    .await;
    let claims = verify(out["token"].as_str().unwrap(), &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(claims["azpacr"], "2", "azure-identity authenticated by certificate");
    assert_eq!(claims["roles"], serde_json::json!(["Orders.Read"]));

    let sha256 = hex::encode_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert.der));
    let output = tokio::process::Command::new("node")
        .arg("-e")
        .arg(MSAL_NODE)
        .args([
            &format!("{}/{tid}", idp.https_base()),
            &id,
            &sha256,
            &cert.key_pem,
            "api://orders/.default",
        ])
        .env("NODE_PATH", &modules)
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "msal-node failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let claims = verify(out["token"].as_str().unwrap(), &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(claims["azpacr"], "2", "msal-node authenticated by certificate");
    idp.stop().await;
}
