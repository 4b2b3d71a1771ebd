//! The IdP listener: plain HTTP and HTTPS on the same port. The first byte of a connection
//! decides: 0x16 opens a TLS handshake, anything else is plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::{get, post};
use axum::{Extension, Router};
use fngate_http::next_connection;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::{Idp, discovery, token};

/// TLS records start with content type 22 (handshake).
const TLS_HANDSHAKE: u8 = 0x16;
/// A client that opens a connection and sends nothing is dropped after this long.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the request arrived, for URLs in discovery documents.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub scheme: &'static str,
    pub local_addr: SocketAddr,
}

/// The Entra-shaped public endpoints.
pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .route("/{tenant}/oauth2/token", post(token::token_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration_v1),
        )
        .route("/common/discovery/instance", get(discovery::instance_discovery))
        .with_state(idp)
}

pub async fn serve(idp: Arc<Idp>, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let local_addr = listener.local_addr().context("idp listener address")?;
    let tls = TlsAcceptor::from(idp.tls_config(Some(local_addr.ip()))?);
    let app = router(idp);
    let http_app = app.clone().layer(Extension(ConnInfo {
        scheme: "http",
        local_addr,
    }));
    let https_app = app.layer(Extension(ConnInfo {
        scheme: "https",
        local_addr,
    }));
    let graceful = GracefulShutdown::new();
    while let Some((stream, peer)) = next_connection(&listener, &shutdown, "idp").await {
        let watcher = graceful.watcher();
        let (tls, http_app, https_app) = (tls.clone(), http_app.clone(), https_app.clone());
        tokio::spawn(async move {
            if let Err(err) = serve_connection(stream, tls, http_app, https_app, watcher).await {
                tracing::debug!(%peer, error = %err, "idp: connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("idp: connections still open after the drain timeout"),
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    tls: TlsAcceptor,
    http_app: Router,
    https_app: Router,
    watcher: Watcher,
) -> anyhow::Result<()> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first))
        .await
        .context("no data from client")??;
    if peeked == 0 {
        return Ok(());
    }
    let builder = auto::Builder::new(TokioExecutor::new());
    if first[0] == TLS_HANDSHAKE {
        let stream = tokio::time::timeout(FIRST_BYTE_TIMEOUT, tls.accept(stream))
            .await
            .context("TLS handshake timed out")??;
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(https_app));
        watcher
            .watch(conn.into_owned())
            .await
            .map_err(|err| anyhow::anyhow!(err))
    } else {
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(http_app));
        watcher
            .watch(conn.into_owned())
            .await
            .map_err(|err| anyhow::anyhow!(err))
    }
}
