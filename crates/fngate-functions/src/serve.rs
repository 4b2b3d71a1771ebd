//! The functions listener's HTTP server: what `axum::serve` does (HTTP/1.1 and h2c, `ConnectInfo`,
//! graceful shutdown), except that each connection is polled through [`InlinePoll`], and that
//! shutdown gives open keep-alive connections a short grace ([`DRAIN_GRACE`], as the gateway).
//!
//! hyper's server hands a request body to the handler through a channel with back-pressure: the
//! handler asking for the body wakes the connection's task — the task it is running in — and tokio
//! reschedules a task that wakes itself as a yield, with a futex wake-up of another worker thread
//! (strace: once per `/invoke`, before the call reaches the FDK). Polled inline, the connection
//! just reads the body on.

use std::net::SocketAddr;

use axum::Router;
use fngate_http::{DRAIN_GRACE, Drain, InlinePoll, next_connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service;

/// Serves `router` on `listener` until `shutdown`, then lets open requests finish.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
    let drain = Drain::default();
    let router = router.layer(axum::middleware::map_response_with_state(
        drain.clone(),
        close_when_draining,
    ));
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    while let Some((stream, remote)) = next_connection(&listener, &shutdown, "functions").await {
        // Adds `ConnectInfo<SocketAddr>` to each request; infallible.
        let Ok(service) = make_service.call(remote).await;
        let connection = Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = InlinePoll::default().run(connection).await {
                tracing::trace!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drain.grace(&graceful, DRAIN_GRACE).await;
    graceful.shutdown().await;
    Ok(())
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
