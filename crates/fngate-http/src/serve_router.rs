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
pub async fn serve_router(mut listener: Listener, router: Router, stop: CancellationToken) {
    let drain = Drain::default();
    let router = router.layer(axum::middleware::map_response_with_state(
        drain.clone(),
        close_when_draining,
    ));
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    listener.limits().configure(&mut builder);
    let open = listener.open_connections();
    let closing = CancellationToken::new();
    while let Some(Accepted { stream, peer, conn }) = listener.accept(&stop).await {
        // Adds `ConnectInfo<SocketAddr>` to each request; infallible.
        let Ok(service) = make_service.call(peer).await;
        let service = conn.service(TowerToHyperService::new(service));
        let io = TokioIo::new(conn.io(stream));
        let connection = builder.serve_connection(io, service).into_owned();
        let connection = conn.serve(connection, &closing);
        tokio::spawn(async move {
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
