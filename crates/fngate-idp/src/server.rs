//! The IdP listener: plain HTTP and HTTPS on the same port. The first byte of a connection
//! decides: 0x16 opens a TLS handshake, anything else is plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use fngate_http::{Accepted, Connection, ConnectionLimits, Listener};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::{Idp, authorize, device, discovery, signin, token, userinfo};

/// TLS records start with content type 22 (handshake).
const TLS_HANDSHAKE: u8 = 0x16;
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
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(token::token_v2).options(token::preflight),
        )
        .route(
            "/{tenant}/oauth2/token",
            post(token::token_v1).options(token::preflight),
        )
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
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::authorize_v2).post(authorize::authorize_v2),
        )
        .route(
            "/{tenant}/oauth2/authorize",
            get(authorize::authorize_v1).post(authorize::authorize_v1),
        )
        .route("/signin/password", post(signin::password_post))
        .route("/signin/consent", post(signin::consent_post))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            any(device::devicecode_v2).options(token::preflight),
        )
        .route(
            "/{tenant}/oauth2/devicecode",
            any(device::devicecode_v1).options(token::preflight),
        )
        .route(
            "/devicelogin",
            get(signin::devicelogin_get).post(signin::devicelogin_post),
        )
        .route("/oidc/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route(
            "/{tenant}/openid/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .with_state(idp)
}

pub async fn serve(
    idp: Arc<Idp>,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
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
    let mut listener = Listener::new(listener, "idp", limits);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    listener.limits().configure(&mut builder);
    let builder = Arc::new(builder);
    let open = listener.open_connections();
    let closing = CancellationToken::new();
    while let Some(Accepted { stream, peer, conn }) = listener.accept(&shutdown).await {
        let (tls, http_app, https_app) = (tls.clone(), http_app.clone(), https_app.clone());
        let (builder, closing) = (builder.clone(), closing.clone());
        tokio::spawn(async move {
            let served = serve_connection(stream, conn, &builder, &closing, tls, http_app, https_app);
            if let Err(err) = served.await {
                tracing::debug!(%peer, error = %err, "idp: connection ended with an error");
            }
        });
    }
    drop(listener);
    closing.cancel();
    tokio::select! {
        () = open.all_closed() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("idp: connections still open after the drain timeout"),
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    conn: Connection,
    builder: &auto::Builder<TokioExecutor>,
    closing: &CancellationToken,
    tls: TlsAcceptor,
    http_app: Router,
    https_app: Router,
) -> anyhow::Result<()> {
    // Everything before hyper runs (the first byte, the TLS handshake) counts against the
    // header timeout from accept, as hyper's own reading of the first head does.
    let deadline = conn.handshake_deadline();
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first))
        .await
        .context("no data from client")??;
    if peeked == 0 {
        return Ok(());
    }
    let io = conn.io(stream);
    if first[0] == TLS_HANDSHAKE {
        let stream = tokio::time::timeout_at(deadline, tls.accept(io))
            .await
            .context("TLS handshake timed out")??;
        let service = conn.service(TowerToHyperService::new(https_app));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        conn.serve(connection.into_owned(), closing)
            .await
            .map_err(|err| anyhow::anyhow!(err))
    } else {
        let service = conn.service(TowerToHyperService::new(http_app));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        conn.serve(connection.into_owned(), closing)
            .await
            .map_err(|err| anyhow::anyhow!(err))
    }
}
