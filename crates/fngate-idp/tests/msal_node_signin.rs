//! Microsoft's MSAL for Node (`@azure/msal-node` from npm) as a web app: `getAuthCodeUrl` with
//! PKCE, the sign-in form posted over fetch as a browser would, `acquireTokenByCode` with the
//! client secret. The IdP is trusted through NODE_EXTRA_CA_CERTS.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

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

const SCRIPT: &str = r#"
const msal = require('@azure/msal-node');
const [authority, base, clientId, secret, scope, user, password, redirectUri] = process.argv.slice(1);
const cookies = new Map();
async function browse(url, init = {}) {
  const headers = Object.assign({}, init.headers || {});
  if (cookies.size) headers['cookie'] = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(url, Object.assign({}, init, { headers, redirect: 'manual' }));
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    cookies.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}
function field(page, name) {
  const m = page.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no field ${name} in ${page.slice(0, 2000)}`);
  return m[1].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
function form(data) {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(data).toString() };
}
(async () => {
  const app = new msal.ConfidentialClientApplication({
    auth: { clientId, authority, clientSecret: secret, knownAuthorities: [new URL(authority).host] },
  });
  const pkce = await new msal.CryptoProvider().generatePkceCodes();
  const url = await app.getAuthCodeUrl({ scopes: [scope], redirectUri, codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256', state: 'node-state' });
  const page = await browse(url);
  let done = await browse(base + '/signin/password', form({ tx: field(page.text, 'tx'),
    form_token: field(page.text, 'form_token'), username: user, password }));
  if (done.text.includes('id="accept"')) {
    done = await browse(base + '/signin/consent', form({ tx: field(done.text, 'tx'),
      form_token: field(done.text, 'form_token'), decision: 'accept' }));
  }
  if (!done.location) throw new Error(`no redirect: ${done.status} ${done.text.slice(0, 2000)}`);
  const back = new URL(done.location);
  const result = await app.acquireTokenByCode({ code: back.searchParams.get('code'), scopes: [scope], redirectUri,
    codeVerifier: pkce.verifier, state: back.searchParams.get('state') });
  console.log(JSON.stringify({ state: back.searchParams.get('state'), accessToken: result.accessToken,
    idTokenClaims: result.idTokenClaims, username: result.account && result.account.username }));
})().catch((err) => { console.error(err); process.exit(1); });
"#;

#[tokio::test]
async fn msal_node_web_app_redeems_a_code_with_pkce() {
    let modules = node_modules();
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let setup = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    let ca = idp.idp.ca_cert_path().display().to_string();
    let authority = format!("{}/{tid}", idp.https_base());
    let output = tokio::process::Command::new("node")
        .arg("-e")
        .arg(SCRIPT)
        .args([
            &authority,
            &idp.https_base(),
            &setup.web.client.client_id,
            &setup.web.secret.value,
            "api://orders/access_as_user",
            "alice",
            ALICE_PASSWORD,
            "https://app.example/callback",
        ])
        .env("NODE_PATH", &modules)
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "msal-node script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["state"], "node-state");
    let keys = jwks(&http_client(), &format!("{}/{tid}/discovery/v2.0/keys", idp.http)).await;
    let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let access = verify(
        out["accessToken"].as_str().unwrap(),
        &keys,
        &issuer,
        &setup.orders.client_id,
    )
    .unwrap();
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["azpacr"], "1", "the web app authenticated with its secret");
    assert_eq!(out["idTokenClaims"]["oid"], setup.alice.object_id);
    assert_eq!(out["username"], setup.alice.upn);
    idp.stop().await;
}
