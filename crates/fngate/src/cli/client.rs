//! The CLI's connection to a running server's admin API.

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cli::GlobalArgs;

/// Default admin address (DESIGN.md); `--server` / `FNGATE_SERVER` override it.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:9090";
/// Header carrying the admin token.
pub const ADMIN_TOKEN_HEADER: &str = "x-fngate-admin-token";
/// File in the data directory holding the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

pub struct AdminClient {
    base: url::Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Self> {
        let base = url::Url::parse(&global.server).with_context(|| {
            format!(
                "--server {:?} is not a URL (expected e.g. {DEFAULT_SERVER})",
                global.server
            )
        })?;
        let token = match &global.admin_token {
            Some(token) => Some(token.clone()),
            None => std::fs::read_to_string(global.data_dir.join(ADMIN_TOKEN_FILE))
                .ok()
                .map(|s| s.trim().to_string()),
        };
        let http = reqwest::Client::builder().build().context("cannot build HTTP client")?;
        Ok(AdminClient { base, token, http })
    }

    /// A request to `path` on the server, with the admin token attached.
    pub fn request(&self, method: Method, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        let url = self.base.join(path).with_context(|| format!("bad API path {path}"))?;
        let mut builder = self.http.request(method, url);
        if let Some(token) = &self.token {
            builder = builder.header(ADMIN_TOKEN_HEADER, token);
        }
        Ok(builder)
    }

    /// Sends the request; a refused connection becomes a plain "server not running" message.
    pub async fn send(&self, builder: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        builder.send().await.map_err(|err| {
            if err.is_connect() {
                anyhow!(
                    "no fngate server is running at {} ({err}).\nStart one with `fngate up` (or point --server / FNGATE_SERVER at it).",
                    self.base
                )
            } else {
                anyhow!("request to {} failed: {err}", self.base)
            }
        })
    }

    /// Sends and decodes a JSON answer; a non-2xx answer becomes an error carrying the server's message.
    pub async fn json<T: DeserializeOwned>(&self, builder: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let response = check(self.send(builder).await?).await?;
        response
            .json::<T>()
            .await
            .context("server sent an answer that is not the expected JSON")
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path)?).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> anyhow::Result<T> {
        self.json(self.request(Method::POST, path)?.json(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        check(self.send(self.request(Method::DELETE, path)?).await?).await?;
        Ok(())
    }
}

/// Turns a non-success answer into an error with the server's `message` (Fn and fngate shapes).
pub async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or(body);
    if status == StatusCode::UNAUTHORIZED {
        bail!(
            "the server refused the admin token ({status}): {message}\nPass --admin-token or run the CLI on the machine that runs `fngate up` with the same --data-dir."
        );
    }
    bail!("server answered {status}: {message}")
}
