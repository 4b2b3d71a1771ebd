//! A real IdP on a real socket over a real SQLite store in a temp dir, for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use fngate_idp::api::{ApiAppInfo, CreatedClient, NewApiApp, NewClientApp};
use fngate_idp::{Idp, IdpOptions};
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct Running {
    pub idp: Arc<Idp>,
    pub addr: std::net::SocketAddr,
    pub http: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: std::path::PathBuf,
}

impl Running {
    pub fn tid(&self) -> String {
        self.idp.default_tenant_id()
    }

    pub fn https_base(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub async fn start(dir: &std::path::Path) -> Running {
    start_with(dir, IdpOptions::default()).await
}

pub async fn start_with(dir: &std::path::Path, options: IdpOptions) -> Running {
    let store = fngate_store::Store::open(dir).await.unwrap();
    let idp = Idp::open_with(store, options).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let limits = fngate_http::ConnectionLimits::default();
    let task = tokio::spawn(idp.clone().serve(listener, limits, shutdown.clone()));
    Running {
        idp,
        addr,
        http: format!("http://{addr}"),
        shutdown,
        task,
        dir: dir.to_path_buf(),
    }
}

/// An API app `orders` (`api://orders`, roles Orders.Read / Orders.Write) with the token version
/// given, and a client `daemon` granted Orders.Read.
pub async fn register(idp: &Idp, token_version: u8) -> (ApiAppInfo, CreatedClient) {
    let api = idp
        .create_api_app(NewApiApp {
            name: "orders".into(),
            identifier_uri: Some("api://orders".into()),
            scopes: vec!["access_as_user".into()],
            app_roles: vec!["Orders.Read".into(), "Orders.Write".into()],
            token_version: Some(token_version),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = idp
        .create_client_app(NewClientApp {
            name: "daemon".into(),
            grants: vec!["orders/Orders.Read".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    (api, client)
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub async fn jwks(http: &reqwest::Client, url: &str) -> JwkSet {
    http.get(url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies what the IdP issued as a careful relying party does (shared with the other crates' tests).
#[allow(unused_imports)] // not every test binary verifies tokens
pub use fngate_test_jwt::verify;

pub fn keys_of(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub mod browser;

pub const ALICE_PASSWORD: &str = "correct horse battery";
pub const BOB_PASSWORD: &str = "bob's long password";

/// What the sign-in tests register.
pub struct SignInSetup {
    /// `orders` (api://orders, v2 tokens, scope access_as_user, group claims, optional claims
    /// idtyp and email).
    pub orders: ApiAppInfo,
    /// `payroll` (api://payroll, v1 tokens, assignment required).
    pub payroll: ApiAppInfo,
    /// SPA: redirect http://localhost:3000/ (spa).
    pub spa: CreatedClient,
    /// Desktop: public client, redirect http://localhost (public), device code allowed.
    pub desktop: CreatedClient,
    /// Web app: redirect https://app.example/callback (web), has a secret.
    pub web: CreatedClient,
    /// alice: group Sales, Orders.Read on orders, assigned to payroll. bob: nothing.
    pub alice: fngate_idp::api::UserInfo,
    pub bob: fngate_idp::api::UserInfo,
}

pub async fn register_sign_in(idp: &Idp) -> SignInSetup {
    use fngate_idp::api::{NewUser, RedirectUri};
    let orders = idp
        .create_api_app(NewApiApp {
            name: "orders".into(),
            identifier_uri: Some("api://orders".into()),
            scopes: vec!["access_as_user".into(), "Orders.Manage".into()],
            app_roles: vec!["Orders.Read".into(), "Orders.Write".into()],
            token_version: Some(2),
            group_claims: true,
            optional_claims: vec!["idtyp".into(), "email".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let payroll = idp
        .create_api_app(NewApiApp {
            name: "payroll".into(),
            identifier_uri: Some("api://payroll".into()),
            scopes: vec!["access_as_user".into()],
            app_roles: vec!["Payroll.Read".into()],
            token_version: Some(1),
            assignment_required: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let client = |name: &str, uri: &str, platform: &str, public_client: bool| NewClientApp {
        name: name.into(),
        redirect_uris: vec![RedirectUri {
            uri: uri.into(),
            platform: platform.into(),
        }],
        public_client,
        ..Default::default()
    };
    let spa = idp
        .create_client_app(client("spa", "http://localhost:3000/", "spa", false))
        .await
        .unwrap();
    let desktop = idp
        .create_client_app(client("desktop", "http://localhost", "public", true))
        .await
        .unwrap();
    let web = idp
        .create_client_app(client("web", "https://app.example/callback", "web", false))
        .await
        .unwrap();
    let alice = idp
        .create_user(NewUser {
            user_name: "alice".into(),
            password: Some(ALICE_PASSWORD.into()),
            display_name: Some("Alice Smith".into()),
            given_name: "Alice".into(),
            surname: "Smith".into(),
            groups: vec!["Sales".into()],
            assignments: vec!["orders/Orders.Read".into(), "payroll".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .user;
    let bob = idp
        .create_user(NewUser {
            user_name: "bob".into(),
            password: Some(BOB_PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .user;
    SignInSetup {
        orders,
        payroll,
        spa,
        desktop,
        web,
        alice,
        bob,
    }
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Decodes a JWT's claims without checking anything (the tests verify separately).
pub fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}
