//! The accept step of every fngate listener (gateway, functions, IdP): the next connection, or
//! none once shutdown is asked for.

use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// After an accept error that is not the client's doing (out of file descriptors and the like),
/// wait this long before trying again instead of spinning on the error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The next connection on `listener`, with `TCP_NODELAY` set (a response written in more than one
/// piece must not wait for the peer's delayed ACK), or `None` once `shutdown` is cancelled.
///
/// A client that gave up before it was accepted is skipped silently; any other error is logged
/// with `listener` (which listener, for the operator) and retried after a pause, as `axum::serve`
/// does, so the connections already open keep being served.
pub async fn next_connection(
    listener: &TcpListener,
    shutdown: &CancellationToken,
    name: &'static str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return Some((stream, peer));
            }
            Err(err) if matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) => {}
            Err(err) => {
                tracing::warn!(target: "fngate::listener", listener = name, error = %err, "accept failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    () = shutdown.cancelled() => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_connections_with_nodelay_and_none_after_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (stream, peer) = next_connection(&listener, &shutdown, "test").await.unwrap();
        let client = client.await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(stream.nodelay().unwrap());

        shutdown.cancel();
        assert!(next_connection(&listener, &shutdown, "test").await.is_none());
    }
}
