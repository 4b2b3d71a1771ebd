//! The gateway listener: hyper 1 with HTTP/1.1 and HTTP/2 (h2c, or ALPN over rustls), the
//! listener's connection cap and timeouts (fngate-http), graceful drain on shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use fngate_http::{Accepted, DRAIN_GRACE, Drain, Listener, TimedBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio_util::sync::CancellationToken;

use crate::Shared;

/// How long shutdown waits for in-flight requests before closing connections anyway.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) -> anyhow::Result<()> {
    // Writes the access log out while serving, and what is left once drained (on drop).
    let _access_log = crate::log_sink::Flusher::start();
    let acceptor = tls.map(|config| tokio_rustls::TlsAcceptor::from(with_alpn(config)));
    let scheme: &'static str = if acceptor.is_some() { "https" } else { "http" };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Timers, HTTP/2 stream cap and PINGs; the header, keep-alive and body timeouts are the
    // connection's (fngate_http::Connection).
    listener.limits().configure(&mut builder);
    builder
        .http1()
        // One flattened write per response instead of a head + body `writev`: measured cheaper
        // (docs/notes/gateway.md, Benchmark).
        .writev(false)
        // Above OCI's 8 KB so the pipeline, not hyper, answers oversized heads (431, JSON body).
        .max_buf_size(64 * 1024);
    builder.http2().max_header_list_size(64 * 1024);
    let builder = Arc::new(builder);
    let open = listener.open_connections();
    let closing = CancellationToken::new();
    let drain = Drain::default();

    while let Some(Accepted { stream, peer, conn }) = listener.accept(&shutdown).await {
        let shared = shared.clone();
        let builder = builder.clone();
        let closing = closing.clone();
        let acceptor = acceptor.clone();
        let drain = drain.clone();
        tokio::spawn(async move {
            let service = conn.service(hyper::service::service_fn(
                move |request: hyper::Request<TimedBody<Incoming>>| {
                    let shared = shared.clone();
                    let drain = drain.clone();
                    async move {
                        let version = request.version();
                        let request = request.map(Body::new);
                        let mut response = crate::pipeline::handle(&shared, request, peer, scheme).await;
                        drain.close_if_draining(version, response.headers_mut());
                        Ok::<_, Infallible>(response)
                    }
                },
            ));
            let io = conn.io(stream);
            let result = match acceptor {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(io), service);
                    conn.serve(connection.into_owned(), &closing).await
                }
                Some(acceptor) => match tokio::time::timeout_at(conn.handshake_deadline(), acceptor.accept(io)).await {
                    Ok(Ok(tls_stream)) => {
                        let connection = builder.serve_connection(TokioIo::new(tls_stream), service);
                        conn.serve(connection.into_owned(), &closing).await
                    }
                    Ok(Err(err)) => {
                        tracing::debug!(target: "fngate::gateway", %peer, error = %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(target: "fngate::gateway", %peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(err) = result {
                tracing::debug!(target: "fngate::gateway", %peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drain.grace(&open, DRAIN_GRACE.min(drain_timeout)).await;
    closing.cancel();
    tokio::select! {
        () = open.all_closed() => {}
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(target: "fngate::gateway", "drain timeout: closing connections with requests still running");
        }
    }
    Ok(())
}

/// Offers h2 and http/1.1 by ALPN unless the caller already chose protocols.
fn with_alpn(config: Arc<rustls::ServerConfig>) -> Arc<rustls::ServerConfig> {
    if !config.alpn_protocols.is_empty() {
        return config;
    }
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}
