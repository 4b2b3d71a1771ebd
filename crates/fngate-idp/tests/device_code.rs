//! The device code flow over raw HTTP and its refusals: pending, declined on the page, a wrong
//! user code, a client that does not allow public flows, an unassigned user, a GET.

mod common;

use common::browser::Browser;
use common::*;
use serde_json::{Value, json};

async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http_client().post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn codes(body: &Value) -> Value {
    body["error_codes"].clone()
}

#[tokio::test]
async fn device_codes_are_approved_declined_or_refused_as_entra_does() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(dir.path()).await;
    let s = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    let devicecode = format!("{}/{tid}/oauth2/v2.0/devicecode", idp.http);
    let token = format!("{}/{tid}/oauth2/v2.0/token", idp.http);
    let desktop = s.desktop.client.client_id.as_str();
    let start_flow = |scope: &'static str, client: String| {
        let url = devicecode.clone();
        async move {
            let (status, body) = post(&url, &[("client_id", &client), ("scope", scope)]).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let poll = |device_code: String, client: String| {
        let url = token.clone();
        async move {
            post(
                &url,
                &[
                    ("client_id", &client),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &device_code),
                ],
            )
            .await
        }
    };

    // Declined on the consent page.
    let flow = start_flow("api://orders/access_as_user", desktop.into()).await;
    let device_code = flow["device_code"].as_str().unwrap().to_string();
    let (status, body) = poll(device_code.clone(), desktop.into()).await;
    assert_eq!((status, codes(&body)), (400, json!([70016])), "{body}");
    assert_eq!(body["error"], "authorization_pending");
    let mut browser = Browser::new(&idp.http);
    let wrong = browser.post("/devicelogin", &[("otc", "NOTACODE1")]).await;
    assert!(wrong.body.contains("Check the code and try again"), "{}", wrong.body);
    // Typed in lower case with a dash: still the code.
    let user_code = flow["user_code"].as_str().unwrap().to_lowercase();
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]);
    let page = browser.post("/devicelogin", &[("otc", &typed)]).await;
    let consent = browser.sign_in(&page, "alice", ALICE_PASSWORD).await;
    let declined = browser.consent(&consent, false).await;
    assert!(declined.body.contains("Sign-in declined"), "{}", declined.body);
    let (status, body) = poll(device_code.clone(), desktop.into()).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("authorization_declined")),
        "{body}"
    );
    // A settled code cannot be entered again.
    let again = browser.post("/devicelogin", &[("otc", &user_code)]).await;
    assert!(again.body.contains("Check the code and try again"), "{}", again.body);

    // Another client cannot redeem this device code.
    let (status, body) = poll(device_code, s.spa.client.client_id.clone()).await;
    assert_eq!((status, codes(&body)), (400, json!([70000])), "{body}");

    // A client that does not allow public flows, without a credential.
    let spa_flow = start_flow("api://orders/access_as_user", s.spa.client.client_id.clone()).await;
    let (status, body) = poll(
        spa_flow["device_code"].as_str().unwrap().into(),
        s.spa.client.client_id.clone(),
    )
    .await;
    assert_eq!((status, codes(&body)), (401, json!([7000218])), "{body}");

    // An unassigned user on an API that requires assignment: the page says so, the device too.
    let flow = start_flow("api://payroll/access_as_user", desktop.into()).await;
    let mut browser = Browser::new(&idp.http);
    let page = browser
        .post("/devicelogin", &[("otc", flow["user_code"].as_str().unwrap())])
        .await;
    let refused = browser.sign_in(&page, "bob", BOB_PASSWORD).await;
    assert!(refused.body.contains("AADSTS501051"), "{}", refused.body);
    let (status, body) = poll(flow["device_code"].as_str().unwrap().into(), desktop.into()).await;
    assert_eq!((status, codes(&body)), (400, json!([501051])), "{body}");

    // The endpoint takes POST only; an unknown client is Entra's error.
    let get = http_client().get(&devicecode).send().await.unwrap();
    assert_eq!(get.status(), 400);
    let body: Value = get.json().await.unwrap();
    assert_eq!(codes(&body), json!([900561]));
    let (status, body) = post(
        &devicecode,
        &[
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!((status, codes(&body)), (400, json!([700016])), "{body}");

    // The v1 endpoint: resource=, and the v1 token shape for the API's v1 token version.
    let (status, v1) = post(
        &format!("{}/{tid}/oauth2/devicecode", idp.http),
        &[("client_id", desktop), ("resource", "api://payroll")],
    )
    .await;
    assert_eq!(status, 200, "{v1}");
    let mut browser = Browser::new(&idp.http);
    let page = browser
        .post("/devicelogin", &[("otc", v1["user_code"].as_str().unwrap())])
        .await;
    let consent = browser.sign_in(&page, "alice", ALICE_PASSWORD).await;
    browser.consent(&consent, true).await;
    let (status, body) = post(
        &format!("{}/{tid}/oauth2/token", idp.http),
        &[
            ("client_id", desktop),
            ("grant_type", "device_code"),
            ("code", v1["device_code"].as_str().unwrap()),
            ("resource", "api://payroll"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "api://payroll");
    assert_eq!(claims["scp"], "access_as_user");
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(body["resource"], "api://payroll");
    assert!(body["refresh_token"].is_string(), "v1 always gives a refresh token");
    idp.stop().await;
}
