//! The CLI's connection to a running server's admin API.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cli::GlobalArgs;

/// Default admin address (DESIGN.md); `--server` / `FNGATE_SERVER` override it.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:9090";
/// File in the data directory holding the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

pub struct AdminClient {
    base: url::Url,
    token: Token,
    http: reqwest::Client,
}

/// The admin token the CLI sends, and where it came from (for the 401 message).
enum Token {
    /// `--admin-token` / `FNGATE_ADMIN_TOKEN`.
    Given(String),
    /// Read from `<data-dir>/admin-token`.
    File { token: String, path: PathBuf },
    /// None could be read: why.
    Missing { path: PathBuf, reason: String },
}

impl AdminClient {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Self> {
        let base = url::Url::parse(&global.server).with_context(|| {
            format!(
                "--server {:?} is not a URL (expected e.g. {DEFAULT_SERVER})",
                global.server
            )
        })?;
        let path = global.data_dir.join(ADMIN_TOKEN_FILE);
        let token = match &global.admin_token {
            Some(token) => Token::Given(token.trim().to_string()),
            None => match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => Token::File {
                    token: text.trim().to_string(),
                    path,
                },
                Ok(_) => Token::Missing {
                    path,
                    reason: "the file is empty".into(),
                },
                Err(err) => Token::Missing {
                    path,
                    reason: err.to_string(),
                },
            },
        };
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = &global.server_ca {
            let pem = std::fs::read(ca).with_context(|| format!("--server-ca {}: cannot read", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--server-ca {}: not a PEM certificate bundle", ca.display()))?;
            if certs.is_empty() {
                bail!("--server-ca {}: no CERTIFICATE block found", ca.display());
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().context("cannot build HTTP client")?;
        Ok(AdminClient { base, token, http })
    }

    /// A request to `path` on the server, with the admin token attached (`Authorization: Bearer`,
    /// as the `fn` CLI sends its context's token).
    pub fn request(&self, method: Method, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        let url = self.base.join(path).with_context(|| format!("bad API path {path}"))?;
        let builder = self.http.request(method, url);
        Ok(match &self.token {
            Token::Given(token) | Token::File { token, .. } => builder.bearer_auth(token),
            Token::Missing { .. } => builder,
        })
    }

    /// Sends the request; a refused connection becomes a plain "server not running" message, a
    /// 401 says which token was sent and what to do.
    pub async fn send(&self, builder: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = builder.send().await.map_err(|err| {
            let chain = error_chain(&err);
            if chain.to_ascii_lowercase().contains("certificate") {
                anyhow!(
                    "cannot trust the TLS certificate of {} ({chain}).\nPass the CA that signed it with --server-ca FILE (env FNGATE_SERVER_CA).",
                    self.base
                )
            } else if err.is_connect() {
                anyhow!(
                    "no fngate server is running at {} ({err}).\nStart one with `fngate up` (or point --server / FNGATE_SERVER at it).",
                    self.base
                )
            } else {
                anyhow!("request to {} failed: {err}", self.base)
            }
        })?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let message = server_message(response).await;
            return Err(self.unauthorized(&message));
        }
        print_warnings(response.headers());
        Ok(response)
    }

    fn unauthorized(&self, message: &str) -> anyhow::Error {
        let server = &self.base;
        let what_to_do = "Run the CLI as the user who started `fngate up`, with the same --data-dir (the CLI reads \
             <data-dir>/admin-token, readable by that user only), or pass the token with --admin-token \
             (env FNGATE_ADMIN_TOKEN).";
        match &self.token {
            Token::Missing { path, reason } => anyhow!(
                "the server at {server} needs the admin token, and the CLI has none: cannot read {} ({reason}).\n{what_to_do}",
                path.display()
            ),
            Token::File { path, .. } => anyhow!(
                "the server at {server} refused the admin token from {} ({message}).\nThat file belongs to another server's data directory: point --data-dir at the data directory of the server you call, or pass its token with --admin-token (env FNGATE_ADMIN_TOKEN).",
                path.display()
            ),
            Token::Given(_) => anyhow!(
                "the server at {server} refused the admin token given with --admin-token / FNGATE_ADMIN_TOKEN ({message}).\nPass the token in the server's <data-dir>/admin-token, or leave the option out to read it from --data-dir."
            ),
        }
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

/// An error and its causes, `: `-separated (reqwest hides the TLS reason in a source).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Prints each `Warning: 299 <agent> "<text>"` header the server sent (fields it stores but does
/// not act on) as `warning: <text>` on stderr.
fn print_warnings(headers: &reqwest::header::HeaderMap) {
    for value in headers.get_all(reqwest::header::WARNING) {
        let Ok(text) = value.to_str() else { continue };
        let message = text
            .split_once('"')
            .map(|(_, rest)| rest.trim_end().trim_end_matches('"'))
            .unwrap_or(text);
        eprintln!("warning: {message}");
    }
}

/// Turns a non-success answer into an error with the server's `message` (Fn and fngate shapes).
pub async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let message = server_message(response).await;
    bail!("server answered {status}: {message}")
}

/// The `message` of an error body (Fn and fngate shapes), else the body itself.
async fn server_message(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or(body)
}
