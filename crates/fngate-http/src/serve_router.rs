//! Serves an axum `Router` the way `axum::serve` does (HTTP/1.1 and h2c, `ConnectInfo`, graceful
//! shutdown), with the listener's cap and timeouts, the keep-alive grace at shutdown
//! ([`DRAIN_GRACE`]), and each connection polled through [`InlinePoll`]. Used by the functions and
//! admin listeners.
//!
//! Why `InlinePoll`: hyper's server hands a request body to the handler through a channel with
//! back-pressure; the handler asking for the body wakes the connection's task, the task it is
//! running in, and tokio reschedules a task that wakes itself as a yield, with a futex wake-up of
//! another worker thread (strace: once per `/invoke`, before the call reaches the FDK). Polled
//! inline, the connection just reads the body on.

use std::net::SocketAddr;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::{Accepted, DRAIN_GRACE, Drain, InlinePoll, Listener};

/// Serves `router` on `listener` until `stop`, then lets open requests finish.
pub async fn serve_router(listener: Listener, router: Router, stop: CancellationToken) {
    serve_router_tls(listener, router, None, stop).await
}

/// [`serve_router`], over TLS when `tls` is given (HTTP/2 and HTTP/1.1 by ALPN); the handshake
/// must finish within the listener's header timeout.
pub async fn serve_router_tls(
    mut listener: Listener,
    router: Router,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    stop: CancellationToken,
) {
    let acceptor = tls.map(|config| {
        let mut config = (*config).clone();
        if config.alpn_protocols.is_empty() {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
    });
    let drain = Drain::default();
    let router = router.layer(axum::middleware::map_response_with_state(
        drain.clone(),
        close_when_draining,
    ));
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    listener.limits().configure(&mut builder);
    let builder = std::sync::Arc::new(builder);
    let open = listener.open_connections();
    let closing = CancellationToken::new();
    while let Some(Accepted { stream, peer, conn }) = listener.accept(&stop).await {
        // Adds `ConnectInfo<SocketAddr>` to each request; infallible.
        let Ok(service) = make_service.call(peer).await;
        let service = conn.service(TowerToHyperService::new(service));
        let Some(acceptor) = acceptor.clone() else {
            let io = TokioIo::new(conn.io(stream));
            let connection = builder.serve_connection(io, service).into_owned();
            let connection = conn.serve(connection, &closing);
            tokio::spawn(async move {
                if let Err(err) = InlinePoll::default().run(connection).await {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
            });
            continue;
        };
        let builder = builder.clone();
        let closing = closing.clone();
        tokio::spawn(async move {
            let io = conn.io(stream);
            let tls_stream = match tokio::time::timeout_at(conn.handshake_deadline(), acceptor.accept(io)).await {
                Ok(Ok(tls_stream)) => tls_stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = builder.serve_connection(TokioIo::new(tls_stream), service).into_owned();
            let connection = conn.serve(connection, &closing);
            if let Err(err) = InlinePoll::default().run(connection).await {
                tracing::trace!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drain.grace(&open, DRAIN_GRACE).await;
    closing.cancel();
    open.all_closed().await;
}

/// [`Drain::close_if_draining`] as an axum response mapper.
async fn close_when_draining(
    axum::extract::State(drain): axum::extract::State<Drain>,
    version: http::Version,
    mut response: axum::response::Response,
) -> axum::response::Response {
    drain.close_if_draining(version, response.headers_mut());
    response
}
