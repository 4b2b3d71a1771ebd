//! One accepted connection's timeouts. hyper has no keep-alive (idle) timeout for either HTTP
//! version, its HTTP/1 header timer starts as soon as a connection waits for a request (so it
//! would also be the idle timeout), and nothing of hyper runs while a TLS handshake or
//! hyper-util's HTTP/1-or-2 sniffing waits for bytes. So each connection is watched here:
//!
//! - a new connection must finish its TLS handshake and its first request head within the
//!   header-read timeout of being accepted;
//! - HTTP/1: once idle (the last response sent), the next request's first byte must come within
//!   the keep-alive timeout, and its head must be complete within the header-read timeout of
//!   that byte;
//! - HTTP/2: a connection with no open stream is closed (GOAWAY) after the keep-alive timeout;
//! - while a request runs, none of these apply: the body-read timeout ([`TimedBody`]) bounds a
//!   client that stalls its body, and a client that stalled its body has its HTTP/1 connection
//!   closed after the answer (`Connection: close`).
//!
//! [`Connection::io`] notes reads, [`Connection::service`] counts requests in progress (from the
//! head until the response body is done), and [`Connection::serve`] runs hyper's connection
//! and closes it when a deadline passes, or gracefully when the server stops.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::HttpService;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::body_timeout::TimedBody;
use crate::limits::ConnectionLimits;
use crate::listener::Slot;

/// `first_read_ms` when nothing was read since the connection went idle.
const NOTHING_READ: u64 = u64::MAX;
/// How long an idle connection asked to close (HTTP/2: GOAWAY sent) may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What the connection's I/O and requests tell its guard. Times are milliseconds since accept.
pub(crate) struct Activity {
    accepted: Instant,
    in_flight: AtomicU32,
    served: AtomicBool,
    http2: AtomicBool,
    idle_since_ms: AtomicU64,
    first_read_ms: AtomicU64,
    close: AtomicBool,
    /// Bumped whenever a deadline may have moved earlier, so the guard recomputes it.
    changes: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            accepted: Instant::now(),
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            first_read_ms: AtomicU64::new(NOTHING_READ),
            close: AtomicBool::new(false),
            changes: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.accepted + Duration::from_millis(ms)
    }

    /// Bytes arrived. Only the first read after going idle costs more than a load.
    #[inline]
    fn note_read(&self) {
        if self.first_read_ms.load(Ordering::Relaxed) == NOTHING_READ {
            self.first_read_ms.store(self.now_ms(), Ordering::Relaxed);
            self.changes.fetch_add(1, Ordering::Release);
        }
    }

    fn request_started(&self, version: Version) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Relaxed);
            self.http2.store(version == Version::HTTP_2, Ordering::Relaxed);
        }
    }

    fn request_ended(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since_ms.store(self.now_ms(), Ordering::Relaxed);
            self.first_read_ms.store(NOTHING_READ, Ordering::Relaxed);
            self.changes.fetch_add(1, Ordering::Release);
        }
    }

    /// A request body timed out: the connection is closed once no request is in progress
    /// (HTTP/1 cannot find where the next request starts).
    pub(crate) fn close_after_response(&self) {
        self.close.store(true, Ordering::Relaxed);
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// When the connection is to close and how; `None` while a request is in progress.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, Close)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let http2 = self.http2.load(Ordering::Relaxed);
        if self.close.load(Ordering::Relaxed) && !http2 {
            return Some((self.accepted, Close::Now("request body timed out")));
        }
        if !self.served.load(Ordering::Relaxed) {
            return Some((
                self.accepted + limits.header_read_timeout,
                Close::Now("no request head within the header timeout"),
            ));
        }
        let first_read = self.first_read_ms.load(Ordering::Relaxed);
        if first_read != NOTHING_READ && !http2 {
            return Some((
                self.at(first_read) + limits.header_read_timeout,
                Close::Now("request head incomplete after the header timeout"),
            ));
        }
        let idle_since = self.idle_since_ms.load(Ordering::Relaxed);
        Some((self.at(idle_since) + limits.keep_alive_timeout, Close::Gracefully))
    }
}

#[derive(Debug, Clone, Copy)]
enum Close {
    /// Dropped at once: nothing useful can come of it.
    Now(&'static str),
    /// Idle keep-alive: asked to close (HTTP/2 sends GOAWAY), then dropped after [`CLOSE_GRACE`].
    Gracefully,
}

/// An accepted connection, before hyper serves it; holds its place under the listener's cap.
pub struct Connection {
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    listener: &'static str,
    slot: Slot,
}

impl Connection {
    pub(crate) fn new(limits: ConnectionLimits, listener: &'static str, slot: Slot) -> Self {
        Connection {
            activity: Arc::new(Activity::new()),
            limits,
            listener,
            slot,
        }
    }

    /// The stream hyper (or TLS) reads, noting when bytes arrive.
    pub fn io<T>(&self, io: T) -> TrackedIo<T> {
        TrackedIo {
            inner: io,
            activity: self.activity.clone(),
        }
    }

    /// The connection's service: each request body gets the body-read timeout, and a request
    /// counts as in progress until its response body is done.
    pub fn service<S>(&self, service: S) -> TrackedService<S> {
        TrackedService {
            inner: service,
            activity: self.activity.clone(),
            body_read_timeout: self.limits.body_read_timeout,
        }
    }

    /// The end of the time a TLS handshake (or anything else before hyper runs) may take.
    pub fn handshake_deadline(&self) -> Instant {
        self.activity.accepted + self.limits.header_read_timeout
    }

    /// Runs `conn` (hyper's connection future) under the deadlines above; `closing` asks every
    /// connection to finish gracefully (server shutdown).
    pub fn serve<C: GracefulShutdown>(self, conn: C, closing: &CancellationToken) -> Serving<C> {
        let limits = self.limits;
        let first = self.activity.accepted + limits.header_read_timeout;
        Serving {
            conn,
            timer: tokio::time::sleep_until(first),
            stop: closing.clone().cancelled_owned(),
            activity: self.activity,
            limits,
            listener: self.listener,
            seen_changes: 0,
            stopping: false,
            closing: false,
            _slot: self.slot,
        }
    }
}

pin_project_lite::pin_project! {
    /// hyper's connection under the connection's deadlines (see the module docs).
    pub struct Serving<C> {
        #[pin]
        conn: C,
        #[pin]
        timer: Sleep,
        #[pin]
        stop: WaitForCancellationFutureOwned,
        activity: Arc<Activity>,
        limits: ConnectionLimits,
        listener: &'static str,
        seen_changes: u64,
        // The server asked every connection to finish.
        stopping: bool,
        // This connection was asked to finish because it sat idle.
        closing: bool,
        _slot: Slot,
    }
}

impl<C, E> Future for Serving<C>
where
    C: Future<Output = Result<(), E>> + GracefulShutdown,
{
    type Output = Result<(), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Poll::Ready(done) = this.conn.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            if !*this.stopping && this.stop.as_mut().poll(cx).is_ready() {
                *this.stopping = true;
                this.conn.as_mut().graceful_shutdown();
                continue;
            }
            let changes = this.activity.changes.load(Ordering::Acquire);
            if changes != *this.seen_changes {
                *this.seen_changes = changes;
                if !*this.closing
                    && let Some((at, _)) = this.activity.deadline(this.limits)
                    && at < this.timer.deadline()
                {
                    this.timer.as_mut().reset(at);
                }
            }
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            if *this.closing {
                // Asked to close a grace ago: drop it unless a request came in meanwhile (then
                // it closes after that request; keep-alive is off).
                if this.activity.in_flight.load(Ordering::Acquire) == 0 {
                    return Poll::Ready(Ok(()));
                }
                this.timer.as_mut().reset(now + CLOSE_GRACE);
                continue;
            }
            match this.activity.deadline(this.limits) {
                // A request is in progress: its end moves the deadline (`changes`).
                None => this.timer.as_mut().reset(now + this.limits.keep_alive_timeout),
                Some((at, _)) if at > now => this.timer.as_mut().reset(at),
                Some((_, Close::Now(why))) => {
                    tracing::debug!(target: "fngate::listener", listener = *this.listener, reason = why, "closing connection");
                    return Poll::Ready(Ok(()));
                }
                Some((_, Close::Gracefully)) => {
                    tracing::debug!(target: "fngate::listener", listener = *this.listener, "closing idle keep-alive connection");
                    *this.closing = true;
                    if !*this.stopping {
                        this.conn.as_mut().graceful_shutdown();
                    }
                    this.timer.as_mut().reset(now + CLOSE_GRACE);
                }
            }
        }
    }
}

/// A hyper connection that can be asked to finish: its open requests are answered, then it
/// closes (HTTP/1 turns keep-alive off, HTTP/2 sends GOAWAY). hyper-util's own trait for this is
/// sealed.
pub trait GracefulShutdown {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulShutdown for auto::Connection<'_, I, S, E>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        auto::Connection::graceful_shutdown(self);
    }
}

impl<I, S, E, B> GracefulShutdown for auto::UpgradeableConnection<'_, I, S, E>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        auto::UpgradeableConnection::graceful_shutdown(self);
    }
}

/// A connection's stream, noting when bytes arrive.
pub struct TrackedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.note_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request in progress; ends when dropped (with the response body, or the request's future).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The connection's service (see [`Connection::service`]).
pub struct TrackedService<S> {
    inner: S,
    activity: Arc<Activity>,
    body_read_timeout: Duration,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for TrackedService<S>
where
    S: hyper::service::Service<Request<TimedBody<Incoming>>, Response = Response<B>>,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let version = request.version();
        self.activity.request_started(version);
        let in_flight = InFlight(self.activity.clone());
        let timeout = self.body_read_timeout;
        let request = request.map(|body| TimedBody::on_connection(body, timeout, self.activity.clone()));
        TrackedFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
            version,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
        version: Version,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(result.map(|mut response| {
            if *this.version < Version::HTTP_2 && in_flight.as_ref().is_some_and(|f| f.0.close.load(Ordering::Relaxed))
            {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            })
        }))
    }
}

pin_project_lite::pin_project! {
    /// A response body; its request is in progress until it is dropped.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        _in_flight: Option<InFlight>,
    }
}

impl<B> http_body::Body for TrackedBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{BodyExt, Empty, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::{Accepted, Listener};

    const HEADER: Duration = Duration::from_millis(400);
    const IDLE: Duration = Duration::from_millis(1200);

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: HEADER,
            body_read_timeout: HEADER,
            keep_alive_timeout: IDLE,
            ..ConnectionLimits::default()
        }
    }

    /// A server on loopback: `/sleep` answers after 2 s, `/body` reads the whole body, anything
    /// else answers "ok" at once.
    async fn server() -> std::net::SocketAddr {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = Listener::new(tcp, "test", limits());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        listener.limits().configure(&mut builder);
        tokio::spawn(async move {
            let closing = CancellationToken::new();
            let stop = CancellationToken::new();
            while let Some(Accepted { stream, conn, .. }) = listener.accept(&stop).await {
                let service = conn.service(hyper::service::service_fn(
                    |request: Request<TimedBody<Incoming>>| async move {
                        let text = match request.uri().path() {
                            "/sleep" => {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                "slept".to_string()
                            }
                            "/body" => match request.into_body().collect().await {
                                Ok(body) => format!("read {}", body.to_bytes().len()),
                                Err(err) => format!("body failed: {err}"),
                            },
                            _ => "ok".to_string(),
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    },
                ));
                let connection = builder
                    .serve_connection(TokioIo::new(conn.io(stream)), service)
                    .into_owned();
                tokio::spawn(conn.serve(connection, &closing));
            }
        });
        addr
    }

    /// Reads until the server closes; how long that took and what it sent.
    async fn until_closed(stream: &mut TcpStream) -> (Duration, String) {
        let started = Instant::now();
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut all)).await;
        (started.elapsed(), String::from_utf8_lossy(&all).into_owned())
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_header_timeout() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        let (took, sent) = until_closed(&mut stream).await;
        assert!(took >= HEADER - Duration::from_millis(50) && took < IDLE, "{took:?}");
        assert_eq!(sent, "");
    }

    #[tokio::test]
    async fn a_head_sent_byte_by_byte_is_cut_off_after_the_header_timeout() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        let started = Instant::now();
        let head = b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: yes\r\n\r\n";
        let mut cut_off = None;
        for byte in head {
            if stream.write_all(&[*byte]).await.is_err() {
                cut_off = Some(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut probe = [0u8; 64];
            if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await {
                cut_off = Some(started.elapsed());
                break;
            }
        }
        let took = cut_off.expect("the server closed the connection before the head was complete");
        assert!(took < HEADER + Duration::from_millis(300), "{took:?}");
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_lasts_the_keep_alive_timeout_not_the_header_one() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut buf = [0u8; 1024];
        stream.write_all(request).await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("ok"));
        // Idle for longer than the header timeout: still served.
        tokio::time::sleep(HEADER * 2).await;
        stream.write_all(request).await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("ok"));
        // Then idle: closed after the keep-alive timeout.
        let (took, _) = until_closed(&mut stream).await;
        assert!(
            took >= IDLE - Duration::from_millis(50) && took < IDLE + Duration::from_millis(500),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_head_on_a_kept_connection_gets_the_header_timeout_from_its_first_byte() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        let mut buf = [0u8; 1024];
        stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let _ = stream.read(&mut buf).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let (took, sent) = until_closed(&mut stream).await;
        assert!(took < HEADER + Duration::from_millis(300), "{took:?}");
        assert_eq!(sent, "");
    }

    #[tokio::test]
    async fn a_request_in_progress_is_not_cut_by_the_idle_or_header_timeouts() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        stream
            .write_all(b"GET /sleep HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).ends_with("slept"),
            "2 s > both timeouts"
        );
    }

    #[tokio::test]
    async fn a_stalled_body_fails_the_read_and_the_connection_closes_after_the_answer() {
        let mut stream = TcpStream::connect(server().await).await.unwrap();
        stream
            .write_all(b"POST /body HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let (took, sent) = until_closed(&mut stream).await;
        assert!(took < HEADER + Duration::from_millis(300), "{took:?}");
        assert!(sent.contains("connection: close"), "{sent}");
        assert!(
            sent.contains("body failed: the client sent nothing of the request body"),
            "{sent}"
        );
    }

    #[tokio::test]
    async fn http2_an_idle_connection_gets_goaway_after_the_keep_alive_timeout() {
        let stream = TcpStream::connect(server().await).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let driver = tokio::spawn(connection);
        // A request longer than both timeouts is served whole.
        let request = Request::get("http://x/sleep").body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "slept");
        let idle_from = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), driver)
            .await
            .expect("the server ended the idle connection")
            .unwrap()
            .unwrap();
        let took = idle_from.elapsed();
        assert!(
            took >= IDLE - Duration::from_millis(50) && took < IDLE + Duration::from_millis(1500),
            "{took:?}"
        );
    }
}
