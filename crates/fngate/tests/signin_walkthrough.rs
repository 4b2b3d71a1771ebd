//! The README's "Signing in as a user" path with the real binary: users and a public client
//! registered by the CLI, a route requiring `scp` `access_as_user`, the device code flow over
//! plain HTTP (the user approves on the IdP's /devicelogin page), the user token through the
//! gateway: 200; the walkthrough's client-credentials token (roles, no scp): 403.

mod support;

#[allow(dead_code)] // shared with the IdP's tests; this test uses part of it
#[path = "../../fngate-idp/tests/common/browser.rs"]
mod browser;

use serde_json::{Value, json};
use support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_code_user_token_passes_the_scope_check_an_app_token_does_not() {
    let tmp = tempfile::Builder::new().prefix("fng-signin").tempdir().unwrap();
    let dir = tmp.path();
    let stack = Server::start();
    let cli = |args: &[&str]| stack.cli_ok(dir, args, None);
    cli(&[
        "idp",
        "app",
        "create",
        "my-oci-api",
        "--identifier-uri",
        "api://my-oci-api",
        "--scope",
        "access_as_user",
        "--role",
        "Api.Read",
    ]);
    let daemon: Value = serde_json::from_str(&cli(&[
        "idp",
        "client",
        "create",
        "my-client",
        "--grant",
        "my-oci-api/Api.Read",
        "--output",
        "json",
    ]))
    .unwrap();
    cli(&[
        "idp",
        "user",
        "create",
        "alice",
        "--password",
        "correct horse battery",
        "--display-name",
        "Alice Smith",
    ]);
    let my_cli: Value = serde_json::from_str(&cli(&[
        "idp",
        "client",
        "create",
        "my-cli",
        "--public-redirect-uri",
        "http://localhost",
        "--public-client",
        "--output",
        "json",
    ]))
    .unwrap();
    let cli_id = my_cli["client"]["client_id"].as_str().unwrap();
    let overview: Value = serde_json::from_str(&cli(&["idp", "list", "--output", "json"])).unwrap();
    let tenant = overview["default_tenant_id"].as_str().unwrap();

    let spec = json!({
        "requestPolicies": {"authentication": {
            "type": "JWT_AUTHENTICATION",
            "tokenHeader": "Authorization",
            "tokenAuthScheme": "Bearer",
            "isAnonymousAccessAllowed": false,
            "issuers": [format!("https://sts.windows.net/{tenant}/")],
            "audiences": ["api://my-oci-api"],
            "publicKeys": {"type": "REMOTE_JWKS", "uri": stack.idp(&format!("/{tenant}/discovery/v2.0/keys")),
                           "isSslVerifyDisabled": false, "maxCacheDurationInHours": 1}
        }},
        "routes": [{
            "path": "/python-func",
            "methods": ["GET"],
            "requestPolicies": {"authorization": {"type": "ANY_OF", "allowedScope": ["access_as_user"]}},
            "backend": {"type": "STOCK_RESPONSE_BACKEND", "status": 200, "body": "hello user"}
        }]
    });
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    cli(&[
        "gateway",
        "deploy",
        "--name",
        "walkthrough",
        "--path-prefix",
        "/v1",
        "--spec",
        spec_path.to_str().unwrap(),
    ]);

    // The device code, as the README's curl asks for it.
    let http = reqwest::Client::new();
    let started: Value = http
        .post(stack.idp(&format!("/{tenant}/oauth2/v2.0/devicecode")))
        .form(&[
            ("client_id", cli_id),
            ("scope", "api://my-oci-api/access_as_user offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = started["user_code"].as_str().unwrap_or_else(|| panic!("{started}"));
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(started["verification_uri"], stack.idp("/devicelogin"));
    assert_eq!(started["expires_in"], 900);
    assert_eq!(started["interval"], 5);
    let poll = || async {
        let response = http
            .post(stack.idp(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("client_id", cli_id),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, pending) = poll().await;
    assert_eq!(
        (status, &pending["error"]),
        (400, &json!("authorization_pending")),
        "{pending}"
    );
    assert_eq!(pending["error_codes"], json!([70016]));

    // alice approves on the page.
    let mut page = browser::Browser::new(&stack.idp(""));
    let entry = page.get("/devicelogin").await;
    assert!(entry.body.contains("Enter code"), "{}", entry.body);
    let sign_in = page.post("/devicelogin", &[("otc", user_code)]).await;
    assert!(sign_in.body.contains("to continue to my-cli"), "{}", sign_in.body);
    let consent = page.sign_in(&sign_in, "alice", "correct horse battery").await;
    let done = page.consent(&consent, true).await;
    assert!(done.body.contains("You have signed in"), "{}", done.body);

    let (status, tokens) = poll().await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let user_token = tokens["access_token"].as_str().unwrap();
    let (status, again) = poll().await;
    assert_eq!(
        (status, &again["error_codes"]),
        (400, &json!([54005])),
        "a device code redeems once"
    );

    let call = |token: String| {
        let http = http.clone();
        let url = stack.gateway("/v1/python-func");
        async move {
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            (status, challenge, response.text().await.unwrap())
        }
    };
    let (status, _, body) = call(user_token.to_string()).await;
    assert_eq!((status, body.as_str()), (200, "hello user"));

    // The walkthrough's client-credentials token: authenticated, but roles are not the scope.
    let app_token: Value = http
        .post(stack.idp(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", daemon["client"]["client_id"].as_str().unwrap()),
            ("client_secret", daemon["secret"]["value"].as_str().unwrap()),
            ("scope", "api://my-oci-api/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, challenge, _) = call(app_token["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, 403);
    assert!(
        challenge.as_deref().unwrap_or_default().contains("insufficient_scope"),
        "{challenge:?}"
    );
}
