//! The access log: one JSON line per request on stdout, with the bytes that really went in and
//! out.
//!
//! Most requests are logged when the response head is ready: the request body's size was
//! declared (`Content-Length`, or no body) and the response body's size is exact. Otherwise the
//! line waits for the body: a request body of unknown size (chunked) is counted as the pipeline
//! reads it ([`BytesIn::measure`]), and the response body is wrapped so the line is written once
//! when it ends, fails, or is dropped unfinished (the client went away). Requests of known sizes
//! get no wrapper, no allocation and no atomic.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use serde::Serialize;
use tokio::time::Instant;

use crate::log_sink;
use crate::observe::{LogInfo, RouteMetrics};

/// One request's line, as the pipeline knows it when the response head is ready.
pub(crate) struct Entry {
    pub info: LogInfo,
    pub method: Method,
    pub status: StatusCode,
    /// From the request's arrival to the response head (`latency_ms`).
    pub latency: Duration,
    pub client: SocketAddr,
    pub request_id: ulid::Ulid,
}

/// How a response body that was waited for ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Sent to its end.
    Complete,
    /// The body gave an error (the backend failed or stalled mid-body): the response was cut off.
    Failed,
    /// Dropped before its end: the connection closed under it (the client went away).
    Aborted,
}

/// The end of a response body: its data bytes handed to the connection, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyEnd {
    pub bytes: u64,
    pub outcome: Outcome,
}

impl Entry {
    /// Writes the line now, or, when a size is not known yet, returns the response with a body
    /// that writes it when the body ends (`started`: the request's arrival, for `duration_ms`).
    pub fn write_or_defer(self, bytes_in: BytesIn, response: Response<Body>, started: Instant) -> Response<Body> {
        let bytes_out = if sends_body(&self.method, self.status) {
            http_body::Body::size_hint(response.body()).exact()
        } else {
            Some(0)
        };
        match (bytes_in, bytes_out) {
            (BytesIn::Known(bytes_in), Some(bytes_out)) => {
                self.write(bytes_in, bytes_out, None);
                response
            }
            (bytes_in, expected) => response.map(|body| {
                Body::new(OnEnd::new(body, expected, move |end: BodyEnd| {
                    self.write(bytes_in.get(), end.bytes, Some((started.elapsed(), end.outcome)));
                }))
            }),
        }
    }

    /// `end`: the time to the body's end and how it ended, for a line written then.
    fn write(&self, bytes_in: u64, bytes_out: u64, end: Option<(Duration, Outcome)>) {
        let mut id_text = [0u8; ulid::ULID_LEN];
        let reason = match end {
            Some((_, Outcome::Failed)) => self.info.reason.or(Some("backend_body_error")),
            Some((_, Outcome::Aborted)) => self.info.reason.or(Some("client_aborted")),
            Some((_, Outcome::Complete)) | None => self.info.reason,
        };
        let line = Line {
            ts: UnixMillis::now(),
            kind: "gateway.access",
            deployment: self.info.deployment.as_deref(),
            route: self.info.route.as_deref().map(RouteMetrics::pattern),
            method: self.method.as_str(),
            status: self.status.as_u16(),
            latency_ms: millis(self.latency),
            bytes_in,
            bytes_out,
            request_id: self.request_id.array_to_str(&mut id_text),
            client: self.client.ip(),
            reason,
            duration_ms: end.map(|(duration, _)| millis(duration)),
        };
        // Serialising plain fields cannot fail; a line that somehow did is left out whole.
        log_sink::append(|buffer| {
            let before = buffer.len();
            if serde_json::to_writer(&mut *buffer, &line).is_err() {
                buffer.truncate(before);
            }
        });
    }
}

/// The JSON line, fields in this order.
#[derive(Serialize)]
struct Line<'a> {
    ts: UnixMillis,
    #[serde(rename = "type")]
    kind: &'static str,
    deployment: Option<&'a str>,
    route: Option<&'a str>,
    method: &'a str,
    status: u16,
    latency_ms: f64,
    bytes_in: u64,
    bytes_out: u64,
    request_id: &'a str,
    client: IpAddr,
    reason: Option<&'static str>,
    /// Only on lines written at the end of the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<f64>,
}

/// Seconds since the Unix epoch with milliseconds, as a string (`"1795710343.261"`).
struct UnixMillis(Duration);

impl UnixMillis {
    fn now() -> UnixMillis {
        UnixMillis(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }
}

impl Serialize for UnixMillis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}.{:03}", self.0.as_secs(), self.0.subsec_millis()))
    }
}

/// Whether the response carries a body on the wire: not for HEAD, a successful CONNECT, 1xx,
/// 204 or 304 (hyper's rule; it drops such a body unread).
fn sends_body(method: &Method, status: StatusCode) -> bool {
    !(*method == Method::HEAD
        || (*method == Method::CONNECT && status.is_success())
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

// === impl BytesIn ===

/// The request body's size: declared, or counted as it is read.
pub(crate) enum BytesIn {
    Known(u64),
    Counted(Arc<AtomicU64>),
}

impl BytesIn {
    /// The declared size of the request's body (0 without one); a body of unknown size
    /// (chunked) is wrapped to count its data as the pipeline reads it.
    pub fn measure(request: Request<Body>) -> (Request<Body>, BytesIn) {
        if let Some(size) = http_body::Body::size_hint(request.body()).exact() {
            return (request, BytesIn::Known(size));
        }
        let counter = Arc::new(AtomicU64::new(0));
        let request = request.map(|body| {
            Body::new(CountBytes {
                inner: body,
                counter: counter.clone(),
            })
        });
        (request, BytesIn::Counted(counter))
    }

    /// The declared size, or what was read so far.
    fn get(&self) -> u64 {
        match self {
            BytesIn::Known(size) => *size,
            BytesIn::Counted(counter) => counter.load(Ordering::Relaxed),
        }
    }
}

/// Adds the length of each data frame read from `inner` to `counter`.
struct CountBytes<B> {
    inner: B,
    counter: Arc<AtomicU64>,
}

impl<B> http_body::Body for CountBytes<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// === impl OnEnd ===

/// Counts the data bytes of `inner` and calls `on_end` exactly once: at the end of the stream
/// (the last frame, or `is_end_stream` after a frame), on an error, or when dropped before its
/// end.
struct OnEnd<B: http_body::Body, F: FnOnce(BodyEnd)> {
    inner: B,
    sent: u64,
    /// What the connection writes of the body: its exact size, 0 for a response that has no
    /// body on the wire (the server drops it unread); none for a streamed body.
    expected: Option<u64>,
    on_end: Option<F>,
}

impl<B: http_body::Body, F: FnOnce(BodyEnd)> OnEnd<B, F> {
    fn new(inner: B, expected: Option<u64>, on_end: F) -> Self {
        OnEnd {
            inner,
            sent: 0,
            expected,
            on_end: Some(on_end),
        }
    }

    /// Nothing more will be sent: a server stops polling here without waiting for the end.
    fn is_finished(&self) -> bool {
        self.inner.is_end_stream() || self.expected.is_some_and(|size| self.sent >= size)
    }

    fn end(&mut self, outcome: Outcome) {
        if let Some(on_end) = self.on_end.take() {
            on_end(BodyEnd {
                bytes: self.sent,
                outcome,
            });
        }
    }
}

impl<B, F> http_body::Body for OnEnd<B, F>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    F: FnOnce(BodyEnd) + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
                if this.is_finished() {
                    this.end(Outcome::Complete);
                }
            }
            Poll::Ready(Some(Err(_))) => this.end(Outcome::Failed),
            Poll::Ready(None) => this.end(Outcome::Complete),
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: http_body::Body, F: FnOnce(BodyEnd)> Drop for OnEnd<B, F> {
    fn drop(&mut self) {
        let outcome = if self.is_finished() {
            Outcome::Complete
        } else {
            Outcome::Aborted
        };
        self.end(outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::stream::{self, StreamExt as _};
    use http_body_util::{BodyExt as _, Full, StreamBody};

    use super::*;

    type Chunks = Vec<Result<Frame<Bytes>, std::io::Error>>;

    /// A streamed body (size unknown) that gives `chunks`, then stays pending if `stall`.
    fn streamed(
        chunks: Chunks,
        stall: bool,
    ) -> StreamBody<stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>>> {
        let head = stream::iter(chunks);
        let stream = if stall {
            head.chain(stream::pending()).boxed()
        } else {
            head.boxed()
        };
        StreamBody::new(stream)
    }

    fn data(text: &'static str) -> Result<Frame<Bytes>, std::io::Error> {
        Ok(Frame::data(Bytes::from_static(text.as_bytes())))
    }

    /// The ends reported, shared with the callback.
    fn recorder() -> (Arc<Mutex<Vec<BodyEnd>>>, impl FnOnce(BodyEnd) + Unpin + Send + 'static) {
        let ends = Arc::new(Mutex::new(Vec::new()));
        let sink = ends.clone();
        (ends, move |end| sink.lock().unwrap().push(end))
    }

    fn ended(bytes: u64, outcome: Outcome) -> Vec<BodyEnd> {
        vec![BodyEnd { bytes, outcome }]
    }

    #[tokio::test]
    async fn a_streamed_body_read_to_its_end_reports_once_with_every_byte() {
        let (ends, on_end) = recorder();
        let mut body = OnEnd::new(streamed(vec![data("hello "), data("world")], false), None, on_end);
        while let Some(frame) = body.frame().await {
            frame.unwrap();
        }
        assert_eq!(*ends.lock().unwrap(), ended(11, Outcome::Complete));
        drop(body);
        assert_eq!(*ends.lock().unwrap(), ended(11, Outcome::Complete), "once");
    }

    #[tokio::test]
    async fn an_error_mid_body_reports_failed_with_the_bytes_before_it() {
        let (ends, on_end) = recorder();
        let chunks = vec![data("abc"), Err(std::io::Error::other("backend reset"))];
        let mut body = OnEnd::new(streamed(chunks, false), None, on_end);
        body.frame().await.unwrap().unwrap();
        assert!(body.frame().await.unwrap().is_err());
        drop(body);
        assert_eq!(*ends.lock().unwrap(), ended(3, Outcome::Failed));
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_reports_aborted_with_the_bytes_sent() {
        let (ends, on_end) = recorder();
        let mut body = OnEnd::new(streamed(vec![data("first part")], true), None, on_end);
        body.frame().await.unwrap().unwrap();
        assert!(ends.lock().unwrap().is_empty(), "still streaming");
        drop(body);
        assert_eq!(*ends.lock().unwrap(), ended(10, Outcome::Aborted));
    }

    #[tokio::test]
    async fn a_body_whose_end_stream_is_known_after_its_last_frame_reports_then() {
        // A server stops polling once `is_end_stream` says so, and drops the body.
        let (ends, on_end) = recorder();
        let mut body = OnEnd::new(Full::new(Bytes::from_static(b"12345")), Some(5), on_end);
        body.frame().await.unwrap().unwrap();
        assert_eq!(*ends.lock().unwrap(), ended(5, Outcome::Complete));
        drop(body);
        assert_eq!(ends.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_body_never_polled_reports_complete_when_nothing_was_to_be_sent() {
        // HEAD, 204, 304: the server drops the body unread.
        let (ends, on_end) = recorder();
        drop(OnEnd::new(streamed(vec![data("unsent")], true), Some(0), on_end));
        assert_eq!(*ends.lock().unwrap(), ended(0, Outcome::Complete));

        // A response the connection closed under before its head was written.
        let (ends, on_end) = recorder();
        drop(OnEnd::new(streamed(vec![data("unsent")], true), None, on_end));
        assert_eq!(*ends.lock().unwrap(), ended(0, Outcome::Aborted));
    }

    #[tokio::test]
    async fn a_request_body_of_unknown_size_is_counted_as_it_is_read() {
        let request = Request::new(Body::new(streamed(vec![data("chunk"), data("ed")], false)));
        let (request, bytes_in) = BytesIn::measure(request);
        assert!(matches!(bytes_in, BytesIn::Counted(_)));
        assert_eq!(bytes_in.get(), 0, "nothing read yet");
        let read = request.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(read, "chunked");
        assert_eq!(bytes_in.get(), 7);

        let (_, bytes_in) = BytesIn::measure(Request::new(Body::from("declared")));
        assert!(matches!(bytes_in, BytesIn::Known(8)), "a known size is not wrapped");
        let (_, bytes_in) = BytesIn::measure(Request::new(Body::empty()));
        assert!(matches!(bytes_in, BytesIn::Known(0)));
    }

    #[test]
    fn responses_without_a_body_on_the_wire() {
        assert!(sends_body(&Method::GET, StatusCode::OK));
        assert!(sends_body(&Method::CONNECT, StatusCode::BAD_GATEWAY));
        assert!(!sends_body(&Method::HEAD, StatusCode::OK));
        assert!(!sends_body(&Method::GET, StatusCode::NO_CONTENT));
        assert!(!sends_body(&Method::GET, StatusCode::NOT_MODIFIED));
        assert!(!sends_body(&Method::CONNECT, StatusCode::OK));
    }

    #[test]
    fn the_line_keeps_its_field_order_and_writes_duration_only_when_known() {
        let mut line = Line {
            ts: UnixMillis(Duration::from_millis(1_795_710_343_261)),
            kind: "gateway.access",
            deployment: Some("api"),
            route: Some("/items/{id}"),
            method: "GET",
            status: 200,
            latency_ms: 0.25,
            bytes_in: 0,
            bytes_out: 12,
            request_id: "01M8CAV0F7PKNY1Q7BF94DJK7S",
            client: "::1".parse().unwrap(),
            reason: None,
            duration_ms: None,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"ts":"1795710343.261","type":"gateway.access","deployment":"api","route":"/items/{id}","method":"GET","status":200,"latency_ms":0.25,"bytes_in":0,"bytes_out":12,"request_id":"01M8CAV0F7PKNY1Q7BF94DJK7S","client":"::1","reason":null}"#
        );
        line.duration_ms = Some(1.5);
        line.reason = Some("client_aborted");
        assert!(
            serde_json::to_string(&line)
                .unwrap()
                .ends_with(r#""reason":"client_aborted","duration_ms":1.5}"#)
        );
    }
}
