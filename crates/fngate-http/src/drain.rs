//! The keep-alive grace when a listener closes: for up to [`DRAIN_GRACE`], open HTTP/1 connections
//! may still send requests, each answered with `Connection: close`, before idle ones are closed.
//! Closing an idle keep-alive connection at once races with a request the client is already
//! sending on it. (HTTP/2 connections get a GOAWAY from the graceful shutdown instead.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Version};

use crate::listener::OpenConnections;

/// How long open HTTP/1 connections may keep sending requests after the listener closes.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Shared by a server's accept loop (which starts the grace) and its connections (whose responses
/// it marks); clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    draining: Arc<AtomicBool>,
}

impl Drain {
    /// During the grace, tells an HTTP/1 client to move off the connection before it is closed.
    #[inline]
    pub fn close_if_draining(&self, version: Version, headers: &mut HeaderMap) {
        if version < Version::HTTP_2 && self.draining.load(Ordering::Relaxed) {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
    }

    /// Starts the grace (call it once the listener is dropped) and waits until no connection is
    /// open or `grace` has passed; the caller then shuts the rest down.
    pub async fn grace(&self, open: &OpenConnections, grace: Duration) {
        self.draining.store(true, Ordering::Relaxed);
        let grace_until = tokio::time::Instant::now() + grace;
        while open.count() > 0 && tokio::time::Instant::now() < grace_until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::{ConnectionLimits, Listener};

    fn connection_header(drain: &Drain, version: Version) -> Option<HeaderValue> {
        let mut headers = HeaderMap::new();
        drain.close_if_draining(version, &mut headers);
        headers.get(http::header::CONNECTION).cloned()
    }

    async fn listener() -> Listener {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Listener::new(tcp, "test", ConnectionLimits::default())
    }

    #[tokio::test]
    async fn http1_responses_say_close_once_the_grace_starts() {
        let drain = Drain::default();
        let open = listener().await.open_connections();
        assert_eq!(connection_header(&drain, Version::HTTP_11), None);
        let started = tokio::time::Instant::now();
        drain.clone().grace(&open, Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no open connection: nothing to wait for"
        );
        for version in [Version::HTTP_10, Version::HTTP_11] {
            assert_eq!(connection_header(&drain, version).unwrap(), "close");
        }
        assert_eq!(connection_header(&drain, Version::HTTP_2), None);
    }

    #[tokio::test]
    async fn the_grace_lasts_until_connections_close_or_it_runs_out() {
        let mut listener = listener().await;
        let open = listener.open_connections();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let accepted = listener.accept(&CancellationToken::new()).await.unwrap();
        let drain = Drain::default();

        let started = tokio::time::Instant::now();
        drain.grace(&open, Duration::from_millis(200)).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(
            open.count(),
            1,
            "an open connection is left for the shutdown that follows"
        );

        drop((accepted, client));
        let started = tokio::time::Instant::now();
        drain.grace(&open, Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the connection closed: the grace ends"
        );
    }
}
