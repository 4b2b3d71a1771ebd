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
