//! MSAL for Python with a certificate credential (`{"private_key", "thumbprint"}`) gets a token
//! from the IdP over HTTPS: MSAL signs the RFC 7523 assertion itself, as against Entra.

mod certs;
mod common;
mod tools;

use certs::Cert;
use common::*;

const SCRIPT: &str = r#"
import json, sys, msal
authority, client_id, key_file, thumbprint, scope, ca = sys.argv[1:7]
credential = {"private_key": open(key_file).read(), "thumbprint": thumbprint}
app = msal.ConfidentialClientApplication(client_id, client_credential=credential, authority=authority,
                                         verify=ca, instance_discovery=False)
print(json.dumps(app.acquire_token_for_client(scopes=[scope])))
"#;

#[tokio::test]
async fn msal_with_a_certificate_gets_a_token_and_an_unregistered_one_gets_700027() {
    let python = tools::python_with("msal");
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let (api, client) = register(&idp.idp, 2).await;
    let tid = idp.tid();
    let id = client.client.client_id.clone();
    let cert = Cert::registered(&idp.idp, &id, "daemon").await;
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, &cert.key_pem).unwrap();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let authority = format!("{}/{tid}", idp.https_base());
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let key = key_file.display().to_string();

    let result = tools::run_json(
        &python,
        SCRIPT,
        &[&authority, &id, &key, &cert.thumbprint(), "api://orders/.default", &ca],
        &ca,
    )
    .await;
    let token = result["access_token"].as_str().unwrap_or_else(|| panic!("{result}"));
    let claims = verify(token, &keys, &issuer, &api.client_id).unwrap();
    assert_eq!(claims["azpacr"], "2", "authenticated by certificate");
    assert_eq!(claims["roles"], serde_json::json!(["Orders.Read"]));

    // A certificate the app does not know: Entra's error, handed over by MSAL as a dict.
    let stranger = Cert::new("stranger", 30);
    std::fs::write(&key_file, &stranger.key_pem).unwrap();
    let refused = tools::run_json(
        &python,
        SCRIPT,
        &[
            &authority,
            &id,
            &key,
            &stranger.thumbprint(),
            "api://orders/.default",
            &ca,
        ],
        &ca,
    )
    .await;
    assert_eq!(refused["error"], "invalid_client", "{refused}");
    assert_eq!(refused["error_codes"], serde_json::json!([700027]));
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains(&stranger.thumbprint()),
        "{refused}"
    );
    idp.stop().await;
}
