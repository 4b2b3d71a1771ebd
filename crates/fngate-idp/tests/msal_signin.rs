//! Microsoft's MSAL for Python signs users in against the IdP over HTTPS: the auth-code flow
//! (`initiate_auth_code_flow` / `acquire_token_by_auth_code_flow`, the script posting the
//! sign-in form as a browser would), `acquire_token_silent` with the refresh token, and the
//! device code flow (`initiate_device_flow` / `acquire_token_by_device_flow`) approved on the
//! IdP's /devicelogin page in parallel. azure-identity's `DeviceCodeCredential` too.

mod common;
mod tools;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use fngate_idp::IdpOptions;
use serde_json::Value;

fn python(module: &str) -> PathBuf {
    tools::python_with(module)
}

/// Shared by the scripts: a browser (requests.Session) that signs in on the IdP's pages.
const BROWSER: &str = r#"
import html, re, requests
def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, page)
    if not m:
        raise SystemExit("no field %s in page: %s" % (name, page[:2000]))
    return html.unescape(m.group(1))

def sign_in(session, base, page, user, password):
    r = session.post(base + "/signin/password", allow_redirects=False, data={
        "tx": field(page, "tx"), "form_token": field(page, "form_token"), "username": user, "password": password})
    if 'id="accept"' in r.text:
        r = session.post(base + "/signin/consent", allow_redirects=False, data={
            "tx": field(r.text, "tx"), "form_token": field(r.text, "form_token"), "decision": "accept"})
    return r
"#;

const AUTH_CODE: &str = r#"
import json, sys, urllib.parse, msal
authority, base, client_id, ca, scope, user, password = sys.argv[1:8]
app = msal.PublicClientApplication(client_id, authority=authority, verify=ca, instance_discovery=False)
flow = app.initiate_auth_code_flow(scopes=[scope], redirect_uri="http://localhost:53117")
browser = requests.Session()
browser.verify = ca
page = browser.get(flow["auth_uri"], allow_redirects=False)
done = sign_in(browser, base, page.text, user, password)
location = done.headers.get("Location", "")
if not location.startswith("http://localhost:53117"):
    raise SystemExit("no redirect to the app: %s %s" % (done.status_code, done.text[:2000]))
auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))
result = app.acquire_token_by_auth_code_flow(flow, auth_response)
accounts = app.get_accounts()
cached = app.acquire_token_silent([scope], account=accounts[0]) if accounts else None
refreshed = app.acquire_token_silent([scope], account=accounts[0], force_refresh=True) if accounts else None
print(json.dumps({"result": result, "accounts": accounts, "cached": cached, "refreshed": refreshed}))
"#;

const DEVICE: &str = r#"
import json, sys, threading, msal
authority, base, client_id, ca, scope, user, password = sys.argv[1:8]
app = msal.PublicClientApplication(client_id, authority=authority, verify=ca, instance_discovery=False)
flow = app.initiate_device_flow(scopes=[scope])
if "user_code" not in flow:
    raise SystemExit("device flow did not start: %s" % flow)
approval = {}
def approve():
    browser = requests.Session()
    browser.verify = ca
    entry = browser.get(flow["verification_uri"])
    page = browser.post(flow["verification_uri"], data={"otc": flow["user_code"].lower()})
    done = sign_in(browser, base, page.text, user, password)
    approval["page"] = done.text
threading.Thread(target=approve).start()
result = app.acquire_token_by_device_flow(flow)
print(json.dumps({"flow": flow, "result": result, "approval": approval.get("page", "")}))
"#;

const AZURE_IDENTITY: &str = r#"
import json, sys, threading, re
from azure.identity import DeviceCodeCredential
authority_host, tenant, base, client_id, ca, scope, user, password = sys.argv[1:9]
def prompt(verification_uri, user_code, expires_on):
    def approve():
        browser = requests.Session()
        browser.verify = ca
        page = browser.post(verification_uri, data={"otc": user_code})
        sign_in(browser, base, page.text, user, password)
    threading.Thread(target=approve).start()
cred = DeviceCodeCredential(client_id=client_id, tenant_id=tenant, authority=authority_host,
                            prompt_callback=prompt, disable_instance_discovery=True, connection_verify=ca)
token = cred.get_token(scope)
print(json.dumps({"token": token.token, "expires_on": token.expires_on}))
"#;

async fn run(python: &PathBuf, script: &str, args: &[&str], ca: &str) -> Value {
    let source = format!("{BROWSER}\n{script}");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg("-c")
            .arg(&source)
            .args(args)
            .env("REQUESTS_CA_BUNDLE", ca)
            .env("SSL_CERT_FILE", ca)
            .env_remove("CURL_CA_BUNDLE")
            .output(),
    )
    .await
    .expect("script timed out")
    .unwrap();
    assert!(
        output.status.success(),
        "script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

async fn start_fast(dir: &std::path::Path) -> Running {
    start_with(
        dir,
        IdpOptions {
            device_poll_interval: Duration::from_secs(1),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn msal_auth_code_flow_and_silent_refresh() {
    let python = python("msal");
    let dir = tempfile::tempdir().unwrap();
    let idp = start_fast(dir.path()).await;
    let setup = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let authority = format!("{}/{tid}", idp.https_base());
    let out = run(
        &python,
        AUTH_CODE,
        &[
            &authority,
            &idp.https_base(),
            &setup.desktop.client.client_id,
            &ca,
            "api://orders/access_as_user",
            "alice",
            ALICE_PASSWORD,
        ],
        &ca,
    )
    .await;
    let result = &out["result"];
    assert_eq!(result["token_type"], "Bearer", "{out}");
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let access = verify(
        result["access_token"].as_str().unwrap(),
        &keys,
        &issuer,
        &setup.orders.client_id,
    )
    .unwrap();
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["oid"], setup.alice.object_id);
    assert_eq!(
        result["id_token_claims"]["preferred_username"], setup.alice.upn,
        "{result}"
    );
    assert_eq!(
        out["accounts"][0]["username"], setup.alice.upn,
        "MSAL made an account from the id_token"
    );
    assert_eq!(out["cached"]["token_source"], "cache", "{out}");
    let refreshed = &out["refreshed"];
    assert_eq!(
        refreshed["token_source"], "identity_provider",
        "refreshed with the refresh token: {out}"
    );
    let again = verify(
        refreshed["access_token"].as_str().unwrap(),
        &keys,
        &issuer,
        &setup.orders.client_id,
    )
    .unwrap();
    assert_eq!(again["scp"], "access_as_user");
    assert_ne!(again["uti"], access["uti"]);
    idp.stop().await;
}

#[tokio::test]
async fn msal_device_code_flow_approved_on_the_page() {
    let python = python("msal");
    let dir = tempfile::tempdir().unwrap();
    let idp = start_fast(dir.path()).await;
    let setup = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let authority = format!("{}/{tid}", idp.https_base());
    let out = run(
        &python,
        DEVICE,
        &[
            &authority,
            &idp.https_base(),
            &setup.desktop.client.client_id,
            &ca,
            "api://orders/access_as_user",
            "alice",
            ALICE_PASSWORD,
        ],
        &ca,
    )
    .await;
    assert_eq!(
        out["flow"]["verification_uri"],
        format!("{}/devicelogin", idp.https_base())
    );
    assert!(
        out["approval"].as_str().unwrap().contains("You have signed in"),
        "{out}"
    );
    let result = &out["result"];
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let access = verify(
        result["access_token"].as_str().unwrap_or_else(|| panic!("{out}")),
        &keys,
        &issuer,
        &setup.orders.client_id,
    )
    .unwrap();
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["preferred_username"], setup.alice.upn);
    assert!(
        result["refresh_token"].is_string(),
        "MSAL adds offline_access: {result}"
    );
    idp.stop().await;
}

#[tokio::test]
async fn azure_identity_device_code_credential() {
    let python = python("azure.identity");
    let dir = tempfile::tempdir().unwrap();
    let idp = start_fast(dir.path()).await;
    let setup = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let out = run(
        &python,
        AZURE_IDENTITY,
        &[
            &idp.https_base(),
            &tid,
            &idp.https_base(),
            &setup.desktop.client.client_id,
            &ca,
            "api://orders/access_as_user",
            "alice",
            ALICE_PASSWORD,
        ],
        &ca,
    )
    .await;
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let access = verify(out["token"].as_str().unwrap(), &keys, &issuer, &setup.orders.client_id).unwrap();
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["oid"], setup.alice.object_id);
    idp.stop().await;
}
