//! Keep-alive HTTP/1.1 connections to one plain-`http://` backend, driven by the task of the
//! request that uses them.
//!
//! hyper-util's pooled client gives every upstream connection its own task and, per request,
//! hands the request and the response between tasks through channels and spawns a task to
//! return the connection to the pool. On a proxy that does nothing else those hand-offs are a
//! large share of the CPU per request. Here the request's own task polls the connection
//! (hyper's `client::conn::http1`, so the protocol code is still hyper's) while it waits for the
//! response head and while the response body streams, and puts the connection back when the body
//! has been read to its end. A connection whose response was abandoned half-way is closed, and so
//! is one that received anything it was not asked for (see [`UpstreamConn::ready_now`]).

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use fngate_http::error_sources;
use http::{Method, Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, recv};
use tokio::net::TcpStream;

use super::read_timeout::ReadTimeout;

/// Idle connections older than this are closed (and never reused).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many idle connections are kept per backend; more are closed when they free up.
const MAX_IDLE: usize = 256;
/// How often idle connections past `IDLE_TIMEOUT` are closed when no request comes to do it.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// Why a request got no response head.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    Connect(std::io::Error),
    ConnectTimeout,
    /// Connected, but no response head within send + read timeout.
    Timeout,
    Http(hyper::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(err) => write!(f, "connect: {err}"),
            UpstreamError::ConnectTimeout => f.write_str("connect: timed out"),
            UpstreamError::Timeout => f.write_str("no response in time"),
            UpstreamError::Http(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::Connect(err) => Some(err),
            UpstreamError::ConnectTimeout | UpstreamError::Timeout => None,
            UpstreamError::Http(err) => Some(err),
        }
    }
}

impl UpstreamError {
    pub fn is_connect(&self) -> bool {
        matches!(self, UpstreamError::Connect(_) | UpstreamError::ConnectTimeout)
    }
}

struct UpstreamConn {
    sender: SendRequest<Body>,
    driver: Connection<TokioIo<TcpStream>, Body>,
    /// The socket's descriptor, owned by `driver`'s stream and so open as long as this is.
    fd: RawFd,
}

impl UpstreamConn {
    /// Whether the connection can take a request now, with nothing the backend sent unasked.
    /// Polling the connection lets hyper notice a close, or bytes it already read past the
    /// response (it fails an idle client connection that has any); a look at the socket itself
    /// then finds bytes that arrived while idle. That look is a `recv(MSG_PEEK)`, not the
    /// runtime's readiness, which is only as fresh as the I/O driver's last turn: on a busy
    /// server a stray response could otherwise be read as the answer to the next request, and
    /// delivered to another client.
    fn ready_now(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            return false;
        }
        matches!(self.sender.poll_ready(&mut cx), Poll::Ready(Ok(()))) && nothing_waiting(self.fd)
    }
}

/// No byte (and no end of stream) waiting on the socket.
fn nothing_waiting(fd: RawFd) -> bool {
    let mut byte = [0u8; 1];
    let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
    matches!(recv(fd, &mut byte, flags), Err(Errno::EAGAIN))
}

struct Idle {
    conn: UpstreamConn,
    since: Instant,
}

/// The idle connections to one backend address.
pub(crate) struct H1Pool {
    /// `host:port` as given in the backend URL (resolved at connect time).
    addr: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<Idle>>,
}

impl H1Pool {
    pub fn new(addr: String, connect_timeout: Duration) -> Arc<Self> {
        let pool = Arc::new(H1Pool {
            addr,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&pool)));
        }
        pool
    }

    /// Sends `request` on an idle connection (or a new one, within the connect timeout) and waits
    /// for the response head, polling the connection from this task; the head must come within
    /// `response_timeout` (send + read) of having a connection. Sent again, once, on a new
    /// connection and within the same deadline: a request the kept connection never started to
    /// write, and a bodiless idempotent request the kept connection lost without an answer (the
    /// backend closed it while idle, as one whose keep-alive timeout is shorter than ours does).
    pub async fn send(
        self: &Arc<Self>,
        request: Request<Body>,
        response_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Response<Body>, UpstreamError> {
        let (mut conn, replay) = match self.checkout() {
            Some(conn) => {
                let replay = replayable(&request).then(|| head_copy(&request));
                (conn, replay)
            }
            None => (self.connect().await?, None),
        };
        let deadline = tokio::time::Instant::now() + response_timeout;
        let request = match timed_exchange(deadline, &mut conn, request).await? {
            Ok(response) => return Ok(self.attach(conn, response, read_timeout)),
            Err(mut err) => match (err.take_message(), replay) {
                (Some(request), _) => request,
                (None, Some(request)) if lost_before_answer(err.error()) => request,
                (None, _) => return Err(UpstreamError::Http(err.into_error())),
            },
        };
        let mut conn = self.connect().await?;
        match timed_exchange(deadline, &mut conn, request).await? {
            Ok(response) => Ok(self.attach(conn, response, read_timeout)),
            Err(err) => Err(UpstreamError::Http(err.into_error())),
        }
    }

    fn attach(
        self: &Arc<Self>,
        conn: UpstreamConn,
        response: Response<Incoming>,
        read_timeout: Duration,
    ) -> Response<Body> {
        response.map(|incoming| {
            let body = DrivenBody {
                incoming,
                conn: Some(conn),
                pool: self.clone(),
            };
            Body::new(ReadTimeout::new(body, read_timeout))
        })
    }

    /// The most recently used idle connection that is still good. Checked (a poll that may
    /// read the socket) and, if stale, closed outside the lock.
    fn checkout(&self) -> Option<UpstreamConn> {
        loop {
            let Idle { mut conn, since } = self.idle.lock().ok()?.pop()?;
            if since.elapsed() < IDLE_TIMEOUT && conn.ready_now() {
                return Some(conn);
            }
        }
    }

    fn checkin(&self, mut conn: UpstreamConn) {
        if !conn.ready_now() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<UpstreamConn, UpstreamError> {
        let stream = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.addr.as_str())).await {
            Err(_) => return Err(UpstreamError::ConnectTimeout),
            Ok(Err(err)) => return Err(UpstreamError::Connect(err)),
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        let fd = stream.as_raw_fd();
        let (sender, driver) = http1::Builder::new()
            // Head and small body copied into one buffer, one plain write: measured cheaper on
            // loopback than a two-part `writev` (see docs/notes/gateway.md, Benchmark).
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Http)?;
        Ok(UpstreamConn { sender, driver, fd })
    }

    fn close_expired(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.retain(|entry| entry.since.elapsed() < IDLE_TIMEOUT);
        }
    }
}

async fn sweep(pool: Weak<H1Pool>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.close_expired(),
            None => return,
        }
    }
}

/// Safe to send twice: an idempotent method and no body.
fn replayable(request: &Request<Body>) -> bool {
    matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE | Method::TRACE
    ) && http_body::Body::is_end_stream(request.body())
}

fn head_copy(request: &Request<Body>) -> Request<Body> {
    let mut copy = Request::new(Body::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The connection ended (closed or reset) before any byte of a response arrived.
fn lost_before_answer(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() {
        return true;
    }
    // The first I/O error in the chain says how the connection ended.
    error_sources(err)
        .find_map(|cause| cause.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            )
        })
}

type Exchanged = Result<Response<Incoming>, hyper::client::conn::TrySendError<Request<Body>>>;

/// [`exchange`] until `deadline`.
async fn timed_exchange(
    deadline: tokio::time::Instant,
    conn: &mut UpstreamConn,
    request: Request<Body>,
) -> Result<Exchanged, UpstreamError> {
    tokio::time::timeout_at(deadline, exchange(conn, request))
        .await
        .map_err(|_| UpstreamError::Timeout)
}

/// Sends the request and drives the connection until the response head arrives.
async fn exchange(conn: &mut UpstreamConn, request: Request<Body>) -> Exchanged {
    let mut response = std::pin::pin!(conn.sender.try_send_request(request));
    let mut driver_done = false;
    std::future::poll_fn(|cx| {
        if !driver_done && Pin::new(&mut conn.driver).poll(cx).is_ready() {
            // Closed or failed: the response future now resolves with what was delivered or
            // the error.
            driver_done = true;
        }
        response.as_mut().poll(cx)
    })
    .await
}

/// The backend's response body; polling it also drives its connection, which goes back to the
/// pool once the body has been read to the end.
struct DrivenBody {
    incoming: Incoming,
    conn: Option<UpstreamConn>,
    pool: Arc<H1Pool>,
}

impl DrivenBody {
    /// Returns the connection to the pool after the last frame; drops it after an error.
    fn delivered(
        &mut self,
        frame: Option<Result<Frame<Bytes>, hyper::Error>>,
    ) -> Option<Result<Frame<Bytes>, hyper::Error>> {
        match &frame {
            None => self.release(),
            Some(Ok(_)) if http_body::Body::is_end_stream(&self.incoming) => self.release(),
            Some(Ok(_)) => {}
            Some(Err(_)) => self.conn = None,
        }
        frame
    }

    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.checkin(conn);
        }
    }
}

impl http_body::Body for DrivenBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.incoming).poll_frame(cx) {
            return Poll::Ready(this.delivered(frame));
        }
        // Reading the body is the connection's work: poll it, then look for a frame again.
        if let Some(conn) = this.conn.as_mut()
            && Pin::new(&mut conn.driver).poll(cx).is_ready()
        {
            // Ended: the body sender is gone, so the next look gives the end or an error.
            this.conn = None;
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(this.delivered(frame)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.incoming)
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for DrivenBody {
    fn drop(&mut self) {
        // The server may stop polling once the size hint says the body is complete.
        if http_body::Body::is_end_stream(&self.incoming) {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A backend connection: reads one request head, answers `200 first`.
    async fn answer_once(listener: &TcpListener) -> TcpStream {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            .await
            .unwrap();
        stream
    }

    async fn get(pool: &Arc<H1Pool>) -> Bytes {
        use http_body_util::BodyExt;
        let request = Request::get("/").header("host", "backend").body(Body::empty()).unwrap();
        let response = pool
            .send(request, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    }

    // Current-thread runtime: nothing turns the I/O driver between the stray write and the
    // checkout, so the runtime's cached readiness of the pooled socket is stale, as it can be
    // on a busy server. Only a look at the socket itself sees the bytes.
    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_that_received_bytes_while_idle_is_not_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = H1Pool::new(listener.local_addr().unwrap().to_string(), Duration::from_secs(5));
        let (body, mut backend) = tokio::join!(get(&pool), answer_once(&listener));
        assert_eq!(body, "first");
        assert_eq!(pool.idle.lock().unwrap().len(), 1, "the clean connection was pooled");
        backend
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET")
            .await
            .unwrap();
        assert!(
            pool.checkout().is_none(),
            "a connection with unrequested bytes was handed out"
        );
        assert!(pool.idle.lock().unwrap().is_empty(), "and it was closed");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bytes_past_the_framed_response_close_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = H1Pool::new(listener.local_addr().unwrap().to_string(), Duration::from_secs(5));
        let serve = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await.unwrap();
            // Content-Length 5, then more: the extra bytes are no response to anything.
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET")
                .await
                .unwrap();
            stream
        };
        let (body, _backend) = tokio::join!(get(&pool), serve);
        assert_eq!(body, "first");
        assert!(
            pool.checkout().is_none(),
            "the over-long answer's connection was reused"
        );
    }
}
