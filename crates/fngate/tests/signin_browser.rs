//! A real browser signs users in: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm with an explicit `executablePath`) against the full `fngate up`.
//!
//! 1. alice signs in on the IdP's page, consents, and lands on the redirect URI with a code.
//! 2. A single-page app served by this test on loopback uses `@azure/msal-browser` (PKCE,
//!    redirect flow) against the IdP and calls a gateway route that requires the `scp`
//!    `access_as_user`: 200 for alice's token; bob's token (scope `read_only` only) gets 403.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::Server;

const CHROMIUM: &str = "/usr/bin/chromium";

fn node_modules() -> PathBuf {
    let modules = support::test_tools().join("node/node_modules");
    for package in ["playwright-core", "@azure/msal-browser"] {
        assert!(
            modules.join(package).join("package.json").exists(),
            "{} has no {package}: run scripts/test.sh once (it installs the test tools)",
            modules.display()
        );
    }
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium package"
    );
    modules
}

/// msal-browser's browser bundle (its path moved between major versions).
fn msal_browser_bundle(modules: &Path) -> PathBuf {
    let lib = modules.join("@azure/msal-browser/lib");
    for candidate in ["msal-browser.min.js", "msal-browser.js"] {
        if lib.join(candidate).is_file() {
            return lib.join(candidate);
        }
    }
    panic!("no browser bundle (lib/msal-browser.min.js) in {}", lib.display());
}

const SPA_PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>spa</title>
<script src="/msal-browser.js"></script></head><body><pre id="out">starting</pre>
<script>
(async () => {
  const out = document.getElementById('out');
  try {
    const cfg = window.SPA_CONFIG;
    const pca = new msal.PublicClientApplication({
      auth: { clientId: cfg.clientId, authority: cfg.authority, knownAuthorities: [cfg.authorityHost],
              redirectUri: cfg.redirectUri },
      cache: { cacheLocation: 'sessionStorage' },
    });
    await pca.initialize();
    const result = await pca.handleRedirectPromise();
    if (!result) {
      await pca.loginRedirect({ scopes: [cfg.scope] });
      return;
    }
    const api = await fetch(cfg.gatewayUrl, { headers: { Authorization: 'Bearer ' + result.accessToken } });
    const claims = JSON.parse(atob(result.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    window.SPA_RESULT = { status: api.status, body: await api.text(), scp: claims.scp,
                          username: result.account.username, idTokenOid: result.idTokenClaims.oid };
    out.textContent = 'done';
  } catch (err) {
    window.SPA_RESULT = { error: String(err && (err.errorCode || err.message) || err), detail: String(err && err.stack) };
    out.textContent = 'error';
  }
})();
</script></body></html>"#;

const LANDED_PAGE: &str = "<!doctype html><title>landed</title><p id=\"landed\">landed</p>";

/// The test's SPA origin: `/` the app, `/msal-browser.js` the library, `/callback` a plain page.
async fn spa_server(bundle: PathBuf) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
    use axum::http::header;
    use axum::response::IntoResponse;
    let script = std::fs::read(bundle).unwrap();
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], SPA_PAGE) }),
        )
        .route(
            "/callback",
            axum::routing::get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], LANDED_PAGE) }),
        )
        .route(
            "/msal-browser.js",
            axum::routing::get(move || {
                let script = script.clone();
                async move { ([(header::CONTENT_TYPE, "text/javascript")], script).into_response() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.cancelled().await })
            .await
    });
    (addr, stop)
}

/// Runs in node: Chromium via playwright-core. Part 1 drives the IdP pages directly; part 2 the
/// SPA for alice and for bob, each in a fresh browser context (no shared cookies or storage).
const PLAYWRIGHT: &str = r#"
const { chromium } = require('playwright-core');
const crypto = require('crypto');
const cfg = JSON.parse(process.argv[1]);
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
async function signIn(page, user, password, expectConsent) {
  await page.waitForSelector('#username', { timeout: 20000 });
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('#signin');
  if (expectConsent) {
    await page.waitForSelector('#accept', { timeout: 20000 });
    await page.click('#accept');
  }
}
async function spa(browser, user, password, scope, expectConsent) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addInitScript((c) => { window.SPA_CONFIG = c; }, Object.assign({}, cfg.spa, { scope }));
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(cfg.spa.redirectUri);
  await signIn(page, user, password, expectConsent);
  await page.waitForFunction(() => window.SPA_RESULT !== undefined, null, { timeout: 30000 });
  const result = await page.evaluate(() => window.SPA_RESULT);
  await context.close();
  return Object.assign(result, { logs: logs.slice(-20) });
}
(async () => {
  const browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox'] });
  try {
    // 1. The IdP's pages, by hand: authorize -> sign in -> consent -> redirect with a code.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const verifier = b64url(crypto.randomBytes(32));
    const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
    const url = `${cfg.authorize}?` + new URLSearchParams({ client_id: cfg.spa.clientId, response_type: 'code',
      redirect_uri: cfg.callback, scope: cfg.aliceScope, state: 'browser-state', nonce: 'browser-nonce',
      code_challenge: challenge, code_challenge_method: 'S256' });
    await page.goto(url);
    const signInTitle = await page.title();
    await signIn(page, 'alice', cfg.alicePassword, true);
    await page.waitForURL((u) => u.toString().startsWith(cfg.callback), { timeout: 20000 });
    const landed = new URL(page.url());
    const landedText = await page.textContent('#landed');
    await context.close();
    // 2. msal-browser in the SPA: alice (consented in step 1) and bob (first time: consent).
    const alice = await spa(browser, 'alice', cfg.alicePassword, cfg.aliceScope.split(' ')[0], false);
    const bob = await spa(browser, 'bob', cfg.bobPassword, cfg.bobScope, true);
    console.log(JSON.stringify({ signInTitle, landed: { code: landed.searchParams.get('code'),
      state: landed.searchParams.get('state'), text: landedText, verifier }, alice, bob }));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(err); process.exit(1); });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_and_the_spa_calls_the_gateway_with_a_user_token() {
    let modules = node_modules();
    let bundle = msal_browser_bundle(&modules);
    let (spa_addr, stop_spa) = spa_server(bundle).await;
    let spa_origin = format!("http://localhost:{}", spa_addr.port());
    let tmp = tempfile::Builder::new().prefix("fng-browser").tempdir().unwrap();
    let dir = tmp.path();
    let stack = Server::start();

    stack.cli_ok(
        dir,
        &[
            "idp",
            "app",
            "create",
            "my-oci-api",
            "--identifier-uri",
            "api://my-oci-api",
            "--scope",
            "access_as_user",
            "--scope",
            "read_only",
        ],
        None,
    );
    let client: Value = serde_json::from_str(&stack.cli_ok(
        dir,
        &[
            "idp",
            "client",
            "create",
            "spa",
            "--spa-redirect-uri",
            &format!("{spa_origin}/"),
            "--spa-redirect-uri",
            &format!("{spa_origin}/callback"),
            "--output",
            "json",
        ],
        None,
    ))
    .unwrap();
    let client_id = client["client"]["client_id"].as_str().unwrap().to_string();
    for (user, password) in [("alice", "alice's password"), ("bob", "bob's password!")] {
        stack.cli_ok(dir, &["idp", "user", "create", user, "--password", password], None);
    }
    let overview: Value = serde_json::from_str(&stack.cli_ok(dir, &["idp", "list", "--output", "json"], None)).unwrap();
    let tenant = overview["default_tenant_id"].as_str().unwrap().to_string();

    // The walkthrough's deployment, for user tokens: v1 issuer and audience, `scp` required.
    let spec = json!({
        "requestPolicies": {
            "authentication": {
                "type": "JWT_AUTHENTICATION",
                "tokenHeader": "Authorization",
                "tokenAuthScheme": "Bearer",
                "isAnonymousAccessAllowed": false,
                "issuers": [format!("https://sts.windows.net/{tenant}/")],
                "audiences": ["api://my-oci-api"],
                "publicKeys": {
                    "type": "REMOTE_JWKS",
                    "uri": stack.idp(&format!("/{tenant}/discovery/v2.0/keys")),
                    "isSslVerifyDisabled": false,
                    "maxCacheDurationInHours": 1
                }
            },
            "cors": {
                "allowedOrigins": [spa_origin],
                "allowedMethods": ["GET", "OPTIONS"],
                "allowedHeaders": ["Authorization"]
            }
        },
        "routes": [{
            "path": "/orders",
            "methods": ["GET"],
            "requestPolicies": {"authorization": {"type": "ANY_OF", "allowedScope": ["access_as_user"]}},
            "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "orders for a user"}
        }]
    });
    let spec_path = dir.join("spa.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    stack.cli_ok(
        dir,
        &[
            "gateway",
            "deploy",
            "--name",
            "spa",
            "--path-prefix",
            "/spa",
            "--spec",
            spec_path.to_str().unwrap(),
        ],
        None,
    );

    let idp_port = stack.idp("").rsplit(':').next().unwrap().to_string();
    let idp_https = format!("https://localhost:{idp_port}");
    let config = json!({
        "chromium": CHROMIUM,
        "authorize": format!("{idp_https}/{tenant}/oauth2/v2.0/authorize"),
        "callback": format!("{spa_origin}/callback"),
        "aliceScope": "api://my-oci-api/access_as_user openid profile offline_access",
        "bobScope": "api://my-oci-api/read_only",
        "alicePassword": "alice's password",
        "bobPassword": "bob's password!",
        "spa": {
            "clientId": client_id,
            "authority": format!("{idp_https}/{tenant}"),
            "authorityHost": format!("localhost:{idp_port}"),
            "redirectUri": format!("{spa_origin}/"),
            "gatewayUrl": stack.gateway("/spa/orders"),
        },
    });
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(180),
        tokio::process::Command::new("node")
            .arg("-e")
            .arg(PLAYWRIGHT)
            .arg(config.to_string())
            .env("NODE_PATH", &modules)
            .output(),
    )
    .await
    .expect("the browser script timed out")
    .unwrap();
    stop_spa.cancel();
    assert!(
        output.status.success(),
        "browser script failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|err| panic!("{err}: {stdout}"));

    // 1. Landed on the redirect URI with a code and the state; the code redeems (PKCE, Origin).
    assert_eq!(out["signInTitle"], "Sign in to your account", "{out}");
    assert_eq!(out["landed"]["state"], "browser-state", "{out}");
    assert_eq!(out["landed"]["text"], "landed");
    let code = out["landed"]["code"].as_str().unwrap();
    let redeemed: Value = reqwest::Client::new()
        .post(stack.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .header("Origin", &spa_origin)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id.as_str()),
            ("code", code),
            ("redirect_uri", &format!("{spa_origin}/callback")),
            ("code_verifier", out["landed"]["verifier"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(redeemed["access_token"].is_string(), "{redeemed}");

    // 2. The SPA with msal-browser: alice's token has the scope the route requires, bob's not.
    let alice = &out["alice"];
    assert_eq!(alice["scp"], "access_as_user", "{alice}");
    assert_eq!(alice["status"], 200, "{alice}");
    assert_eq!(alice["body"], "orders for a user");
    assert!(alice["username"].as_str().unwrap().starts_with("alice@"), "{alice}");
    let bob = &out["bob"];
    assert_eq!(bob["scp"], "read_only", "{bob}");
    assert_eq!(bob["status"], 403, "{bob}");
}
