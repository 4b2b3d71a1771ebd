//! The authorization-code flow with PKCE driven over raw HTTP through the IdP's own sign-in and
//! consent pages, and each way it must refuse: wrong verifier, reused code, unregistered
//! redirect URI (never redirected to), wrong password, forged form posts, assignment required,
//! a rotated SPA refresh token presented again.

mod common;

use common::browser::{Browser, Page};
use common::*;
use serde_json::{Value, json};

struct Flow {
    idp: Running,
    setup: SignInSetup,
    tid: String,
}

async fn start_flow(dir: &std::path::Path) -> Flow {
    let idp = start(dir).await;
    let setup = register_sign_in(&idp.idp).await;
    let tid = idp.tid();
    Flow { idp, setup, tid }
}

impl Flow {
    fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            query.append_pair(k, v);
        }
        format!(
            "{}/{}/oauth2/v2.0/authorize?{}",
            self.idp.http,
            self.tid,
            query.finish()
        )
    }

    async fn redeem(&self, form: &[(&str, &str)], origin: Option<&str>) -> (u16, Value) {
        let mut request = http_client()
            .post(format!("{}/{}/oauth2/v2.0/token", self.idp.http, self.tid))
            .form(form);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The SPA's authorize URL (its registered redirect URI, no extra parameters).
    fn spa_authorize_url(&self, scope: &str, challenge: &str) -> String {
        self.authorize_url(
            &self.setup.spa.client.client_id,
            "http://localhost:3000/",
            scope,
            challenge,
            &[],
        )
    }

    /// Signs alice in to the SPA and returns the code and its verifier.
    async fn spa_code(&self, browser: &mut Browser, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let url = self.spa_authorize_url(scope, &challenge);
        let done = browser.sign_in_through(&url, "alice", ALICE_PASSWORD).await;
        assert_eq!(done.status, 302, "{}", done.body);
        let code = done
            .redirect_param("code")
            .unwrap_or_else(|| panic!("no code in {:?}", done.location));
        (code, verifier)
    }

    async fn spa_redeem(&self, code: &str, verifier: &str) -> (u16, Value) {
        self.redeem(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &self.setup.spa.client.client_id),
                ("code", code),
                ("redirect_uri", "http://localhost:3000/"),
                ("code_verifier", verifier),
                ("client_info", "1"),
            ],
            Some("http://localhost:3000"),
        )
        .await
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, error: &str, code: u64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
}

const SPA_SCOPE: &str = "api://orders/access_as_user openid profile offline_access";

#[tokio::test]
async fn spa_signs_in_with_pkce_and_gets_user_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let mut browser = Browser::new(&flow.idp.http);

    // The authorize request shows the sign-in page, locked down.
    let (verifier, challenge) = pkce();
    let url = flow.spa_authorize_url(SPA_SCOPE, &challenge);
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("to continue to spa"), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    // form-action also covers the redirect after the form posts: the app's origin, nothing else.
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self' http://localhost:3000;"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // Password, then consent (first time), then back to the app with a code and the state.
    let consent = browser.sign_in(&page, "alice", ALICE_PASSWORD).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("access_as_user"), "{}", consent.body);
    let done = browser.consent(&consent, true).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location.clone().unwrap();
    assert!(location.starts_with("http://localhost:3000/?code="), "{location}");
    assert_eq!(done.redirect_param("state").as_deref(), Some("st-123"));
    let code = done.redirect_param("code").unwrap();

    let (status, body) = flow.spa_redeem(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], SPA_SCOPE);
    let keys = jwks(
        &http_client(),
        &format!("{}/{}/discovery/v2.0/keys", flow.idp.http, flow.tid),
    )
    .await;
    let issuer = format!("https://login.microsoftonline.com/{}/v2.0", flow.tid);
    let access = verify(
        body["access_token"].as_str().unwrap(),
        &keys,
        &issuer,
        &s.orders.client_id,
    )
    .unwrap();
    assert_eq!(access["scp"], "access_as_user", "{access}");
    assert_eq!(access["roles"], json!(["Orders.Read"]));
    assert_eq!(access["oid"], s.alice.object_id);
    assert_eq!(access["tid"], flow.tid);
    assert_eq!(access["name"], "Alice Smith");
    assert_eq!(access["preferred_username"], s.alice.upn);
    assert_eq!(access["azp"], s.spa.client.client_id);
    assert_eq!(access["azpacr"], "0", "a public client");
    assert_eq!(access["idtyp"], "user", "optional claim configured on the API");
    assert_eq!(access["email"], s.alice.email);
    assert_eq!(
        access["groups"],
        json!([s.alice.groups[0].object_id]),
        "group claims on"
    );
    assert_eq!(access["ver"], "2.0");

    let id = verify(
        body["id_token"].as_str().unwrap(),
        &keys,
        &issuer,
        &s.spa.client.client_id,
    )
    .unwrap();
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["oid"], s.alice.object_id);
    assert_eq!(id["tid"], flow.tid);
    assert_eq!(id["preferred_username"], s.alice.upn);
    assert_eq!(id["name"], "Alice Smith");
    assert_eq!(id["ver"], "2.0");
    assert!(
        body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()),
        "offline_access: {body}"
    );
    let info: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            body["client_info"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({"uid": s.alice.object_id, "utid": flow.tid}));

    // Consent is remembered: the second sign-in goes straight back to the app.
    let (_, challenge) = pkce();
    let url = flow.spa_authorize_url(SPA_SCOPE, &challenge);
    let page = browser.get(&url).await;
    let again = browser.sign_in(&page, "alice", ALICE_PASSWORD).await;
    assert_eq!(again.status, 302, "no consent page the second time: {}", again.body);

    flow.idp.stop().await;
}

#[tokio::test]
async fn codes_are_bound_to_the_verifier_used_once_and_to_the_redirect_uri() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let mut browser = Browser::new(&flow.idp.http);

    // Wrong verifier.
    let (code, _) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (wrong, _) = pkce();
    let (status, body) = flow.spa_redeem(&code, &wrong).await;
    assert_error(status, &body, 400, "invalid_grant", 501481);

    // Reused code.
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (status, body) = flow.spa_redeem(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = flow.spa_redeem(&code, &verifier).await;
    assert_error(status, &body, 400, "invalid_grant", 54005);

    // A redirect URI other than the one the code was issued for.
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &flow.setup.spa.client.client_id),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/other"),
                ("code_verifier", &verifier),
            ],
            Some("http://localhost:3000"),
        )
        .await;
    assert_error(status, &body, 400, "invalid_grant", 500112);

    // A SPA's code redeemed from outside a browser (no Origin).
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &flow.setup.spa.client.client_id),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/"),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", 9002327);

    flow.idp.stop().await;
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let mut browser = Browser::new(&flow.idp.http);
    let (_, challenge) = pkce();
    for uri in [
        "https://evil.example/steal",
        "http://localhost:3000/other",
        "http://localhost:3001/",
    ] {
        let url = flow.authorize_url(&s.spa.client.client_id, uri, SPA_SCOPE, &challenge, &[]);
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{uri}: {}", page.body);
        assert!(page.location.is_none(), "{uri}: redirected to {:?}", page.location);
        assert!(page.body.contains("AADSTS50011"), "{uri}: {}", page.body);
        assert!(page.field("tx").is_none(), "no sign-in form");
    }
    // Unknown client: a page as well.
    let url = flow.authorize_url(
        "00000000-1111-2222-3333-444444444444",
        "http://localhost:3000/",
        SPA_SCOPE,
        &challenge,
        &[],
    );
    let page = browser.get(&url).await;
    assert_eq!(page.status, 400);
    assert!(
        page.location.is_none() && page.body.contains("AADSTS700016"),
        "{}",
        page.body
    );

    // A public client's http://localhost matches any port (RFC 8252), but not another path.
    let url = flow.authorize_url(
        &s.desktop.client.client_id,
        "http://localhost:51234",
        "openid",
        &challenge,
        &[],
    );
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let url = flow.authorize_url(
        &s.desktop.client.client_id,
        "http://localhost:51234/x",
        "openid",
        &challenge,
        &[],
    );
    assert_eq!(browser.get(&url).await.status, 400);

    // Once the redirect URI is trusted, errors go back to it with the state.
    let url = flow.spa_authorize_url("api://nothing/x", &challenge);
    let page = browser.get(&url).await;
    assert_eq!(page.status, 302);
    assert_eq!(page.redirect_param("error").as_deref(), Some("invalid_resource"));
    assert!(
        page.redirect_param("error_description")
            .unwrap()
            .starts_with("AADSTS500011: ")
    );
    assert_eq!(page.redirect_param("state").as_deref(), Some("st-123"));
    // plain PKCE is refused; a SPA without PKCE too.
    let url = flow
        .authorize_url(
            &s.spa.client.client_id,
            "http://localhost:3000/",
            SPA_SCOPE,
            &challenge,
            &[("response_mode", "fragment")],
        )
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let page = browser.get(&url).await;
    let location = page.location.clone().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/#error=invalid_request"),
        "{location}"
    );
    assert!(
        page.redirect_param("error_description")
            .unwrap()
            .starts_with("AADSTS50149: ")
    );
    let url = format!(
        "{}/{}/oauth2/v2.0/authorize?client_id={}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F&scope=openid",
        flow.idp.http, flow.tid, s.spa.client.client_id
    );
    let page = browser.get(&url).await;
    assert!(
        page.redirect_param("error_description")
            .unwrap()
            .starts_with("AADSTS9002325: "),
        "{:?}",
        page.location
    );
    flow.idp.stop().await;
}

#[tokio::test]
async fn wrong_passwords_and_forged_posts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let mut browser = Browser::new(&flow.idp.http);
    let (verifier, challenge) = pkce();
    let url = flow.spa_authorize_url(SPA_SCOPE, &challenge);
    let first = browser.get(&url).await;
    let (first_tx, first_token) = (first.field("tx").unwrap(), first.field("form_token").unwrap());

    let mut page = first;
    for (user, password) in [("alice", "wrong password"), ("nobody", ALICE_PASSWORD)] {
        let again = browser.sign_in(&page, user, password).await;
        assert_eq!(again.status, 200);
        assert!(again.location.is_none());
        assert!(
            again.body.contains("Your account or password is incorrect"),
            "{}",
            again.body
        );
        assert!(again.body.contains("AADSTS50126"), "{}", again.body);
        assert_eq!(again.field("tx").unwrap(), first_tx, "the same sign-in goes on");
        page = again;
    }
    // Each page carries the next form token; the first page's is used up.
    let stale = browser
        .post(
            "/signin/password",
            &[
                ("tx", &first_tx),
                ("form_token", &first_token),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(stale.status, 403, "a used form token: {}", stale.body);
    // The latest page's token still signs in.
    let consent = browser.sign_in(&page, "alice", ALICE_PASSWORD).await;
    assert!(consent.body.contains("id=\"accept\""), "{}", consent.body);

    let fresh = browser.get(&url).await;
    let fresh_tx = fresh.field("tx").unwrap();
    let token = fresh.field("form_token").unwrap();
    // No form token.
    let forged = browser
        .post(
            "/signin/password",
            &[("tx", &fresh_tx), ("username", "alice"), ("password", ALICE_PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // The right form token without the browser's cookie (another site's form).
    let mut other = Browser::new(&flow.idp.http);
    let forged = other
        .post(
            "/signin/password",
            &[
                ("tx", &fresh_tx),
                ("form_token", &token),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.location.is_none());
    // Consent straight away, without the password step.
    let forged = browser
        .post(
            "/signin/consent",
            &[("tx", &fresh_tx), ("form_token", &token), ("decision", "accept")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // A sign-in id that does not exist.
    let gone = browser
        .post(
            "/signin/password",
            &[
                ("tx", "nope"),
                ("form_token", &token),
                ("username", "alice"),
                ("password", "x"),
            ],
        )
        .await;
    assert!(gone.body.contains("AADSTS50089"), "{}", gone.body);

    // Declining consent sends access_denied back.
    let fresh = browser.get(&url).await;
    let consent = browser.sign_in(&fresh, "alice", ALICE_PASSWORD).await;
    let declined = browser.consent(&consent, false).await;
    assert_eq!(declined.redirect_param("error").as_deref(), Some("access_denied"));
    assert!(
        declined
            .redirect_param("error_description")
            .unwrap()
            .starts_with("AADSTS65004: ")
    );
    let _ = verifier;
    flow.idp.stop().await;
}

#[tokio::test]
async fn assignment_required_refuses_unassigned_users_and_clients() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let scope = "api://payroll/access_as_user openid profile";

    // bob is not assigned to payroll: the app hears AADSTS501051.
    let mut browser = Browser::new(&flow.idp.http);
    let (_, challenge) = pkce();
    let url = flow.spa_authorize_url(scope, &challenge);
    let done = browser.sign_in_through(&url, "bob", BOB_PASSWORD).await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert_eq!(done.redirect_param("error").as_deref(), Some("invalid_grant"));
    let description = done.redirect_param("error_description").unwrap();
    assert!(description.starts_with("AADSTS501051: "), "{description}");

    // alice is: a v1 token for payroll.
    let (verifier, challenge) = pkce();
    let url = flow.spa_authorize_url(scope, &challenge);
    let done = browser.sign_in_through(&url, "alice", ALICE_PASSWORD).await;
    let code = done
        .redirect_param("code")
        .unwrap_or_else(|| panic!("{:?}", done.location));
    let (status, body) = flow.spa_redeem(&code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let access = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(access["ver"], "1.0");
    assert_eq!(access["aud"], "api://payroll");
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["upn"], s.alice.upn);
    assert!(access.get("roles").is_none(), "default access, no role: {access}");

    // A client with no role on payroll gets no client-credentials token for it.
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &s.web.client.client_id),
                ("client_secret", &s.web.secret.value),
                ("scope", "api://payroll/.default"),
            ],
            None,
        )
        .await;
    assert_error(status, &body, 400, "invalid_grant", 501051);
    flow.idp.stop().await;
}

#[tokio::test]
async fn spa_refresh_tokens_rotate_and_a_reused_one_revokes_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let mut browser = Browser::new(&flow.idp.http);
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (_, first) = flow.spa_redeem(&code, &verifier).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String| {
        let client_id = s.spa.client.client_id.clone();
        let flow = &flow;
        async move {
            flow.redeem(
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &client_id),
                    ("refresh_token", &rt),
                    ("scope", "api://orders/access_as_user openid offline_access"),
                ],
                Some("http://localhost:3000"),
            )
            .await
        }
    };
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "rotated");
    assert_eq!(
        claims_of(second["access_token"].as_str().unwrap())["scp"],
        "access_as_user"
    );
    assert!(second["id_token"].is_string());

    // The old one again: refused, and the chain is revoked (rt2 too).
    let (status, body) = refresh(rt1).await;
    assert_error(status, &body, 400, "invalid_grant", 70000);
    let (status, body) = refresh(rt2).await;
    assert_error(status, &body, 400, "invalid_grant", 70000);

    // A refresh may ask for less; the next one may ask for everything granted again.
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (_, tokens) = flow.spa_redeem(&code, &verifier).await;
    let (status, narrow) = flow
        .redeem(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &s.spa.client.client_id),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("scope", "openid offline_access"),
            ],
            Some("http://localhost:3000"),
        )
        .await;
    assert_eq!(status, 200, "{narrow}");
    assert_eq!(
        claims_of(narrow["access_token"].as_str().unwrap())["aud"],
        "00000003-0000-0000-c000-000000000000",
        "OIDC scopes only: a token for userinfo"
    );
    let (status, wide) = refresh(narrow["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, 200, "{wide}");
    assert_eq!(
        claims_of(wide["access_token"].as_str().unwrap())["scp"],
        "access_as_user"
    );

    // A scope the user never consented to is not had by refreshing.
    let (code, verifier) = flow.spa_code(&mut browser, SPA_SCOPE).await;
    let (_, tokens) = flow.spa_redeem(&code, &verifier).await;
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &s.spa.client.client_id),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("scope", "api://orders/Orders.Manage"),
            ],
            Some("http://localhost:3000"),
        )
        .await;
    assert_error(status, &body, 400, "invalid_grant", 65001);
    flow.idp.stop().await;
}

#[tokio::test]
async fn web_apps_redeem_with_their_secret_and_other_response_modes_work() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let mut browser = Browser::new(&flow.idp.http);
    let redirect = "https://app.example/callback";
    let (verifier, challenge) = pkce();
    let url = flow.authorize_url(
        &s.web.client.client_id,
        redirect,
        "api://orders/access_as_user openid offline_access",
        &challenge,
        &[("response_mode", "form_post")],
    );
    let done: Page = browser.sign_in_through(&url, "alice", ALICE_PASSWORD).await;
    assert_eq!(done.status, 200, "form_post: {}", done.body);
    assert!(
        done.body.contains("action=\"https://app.example/callback\""),
        "{}",
        done.body
    );
    let csp = done.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action https://app.example"), "{csp}");
    assert_eq!(done.field("state").as_deref(), Some("st-123"));
    let code = done.field("code").unwrap();
    let form = |secret: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", s.web.client.client_id.clone()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_string()),
            ("code_verifier", verifier.clone()),
        ];
        if let Some(secret) = secret {
            form.push(("client_secret", secret.to_string()));
        }
        form
    };
    // Without the secret: a confidential client must authenticate. (The code is spent.)
    let (status, body) = flow
        .redeem(
            &form(None).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
            None,
        )
        .await;
    assert_error(status, &body, 401, "invalid_client", 7000218);

    let (verifier2, challenge) = pkce();
    let url = flow.authorize_url(
        &s.web.client.client_id,
        redirect,
        "api://orders/access_as_user openid offline_access",
        &challenge,
        &[],
    );
    let done = browser.sign_in_through(&url, "alice", ALICE_PASSWORD).await;
    let code = done.redirect_param("code").unwrap();
    let secret = s.web.secret.value.clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", s.web.client.client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier2.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let (status, body) = flow.redeem(&form, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["azpacr"], "1");

    // Web refresh tokens are reusable (90 days) but need the secret.
    let rt = body["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, body) = flow
            .redeem(
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &s.web.client.client_id),
                    ("refresh_token", rt),
                    ("client_secret", &secret),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &s.web.client.client_id),
                ("refresh_token", rt),
            ],
            None,
        )
        .await;
    assert_error(status, &body, 401, "invalid_client", 7000218);
    flow.idp.stop().await;
}

#[tokio::test]
async fn openid_only_sign_in_gets_a_userinfo_token() {
    let dir = tempfile::tempdir().unwrap();
    let flow = start_flow(dir.path()).await;
    let s = &flow.setup;
    let mut browser = Browser::new(&flow.idp.http);
    let (verifier, challenge) = pkce();
    let url = flow.authorize_url(
        &s.desktop.client.client_id,
        "http://localhost:40111",
        "openid profile email",
        &challenge,
        &[],
    );
    let done = browser.sign_in_through(&url, "alice", ALICE_PASSWORD).await;
    let code = done
        .redirect_param("code")
        .unwrap_or_else(|| panic!("{:?} {}", done.location, done.body));
    let (status, body) = flow
        .redeem(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &s.desktop.client.client_id),
                ("code", &code),
                ("redirect_uri", "http://localhost:40111"),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let id = claims_of(body["id_token"].as_str().unwrap());
    let info: Value = http_client()
        .get(format!("{}/oidc/userinfo", flow.idp.http))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], id["sub"], "{info}");
    assert_eq!(info["name"], "Alice Smith");
    assert_eq!(info["email"], s.alice.email);
    let refused = http_client()
        .get(format!("{}/oidc/userinfo", flow.idp.http))
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    flow.idp.stop().await;
}
