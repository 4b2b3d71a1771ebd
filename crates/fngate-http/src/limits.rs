//! How long a listener waits for a client, and how many connections it keeps open: the settings
//! behind `fngate up --header-read-timeout/--body-read-timeout/--keep-alive-timeout/
//! --max-connections/--http2-max-concurrent-streams` (defaults in the README's compatibility notes).

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

/// One listener's bounds on its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request head must be complete this long after its first byte arrived; a new connection
    /// must finish its TLS handshake and its first request head this long after it was accepted.
    pub header_read_timeout: Duration,
    /// The longest the server waits for the next part of a request body it is reading.
    pub body_read_timeout: Duration,
    /// A connection with no request in progress (HTTP/1 waiting for the next request, HTTP/2 with
    /// no open stream) is closed after this long.
    pub keep_alive_timeout: Duration,
    /// The most connections the listener keeps open; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// HTTP/2: the most requests (streams) one connection may have open at once.
    pub http2_max_concurrent_streams: u32,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
    /// What a library user gets; `fngate up` derives its default from the fd limit instead.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    /// RFC 9113 §6.5.2 recommends no fewer than 100.
    pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 100;

    /// Sets what hyper enforces itself: HTTP/2's stream cap and PINGs (a peer that stops
    /// answering them while its requests run is dropped); HTTP/1's own header timer is turned
    /// off, because the connection guard ([`crate::Connection`]) times heads from their first
    /// byte, where hyper's timer starts as soon as the connection waits for a request and so
    /// would also cut every idle keep-alive connection at the header timeout.
    pub fn configure(&self, builder: &mut auto::Builder<TokioExecutor>) {
        builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.http2_max_concurrent_streams)
            .keep_alive_interval(self.keep_alive_timeout);
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            keep_alive_timeout: Self::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            http2_max_concurrent_streams: Self::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
        }
    }
}
