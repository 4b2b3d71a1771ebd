//! `readTimeoutInSeconds` while a backend's response body streams: a body that sends nothing for
//! that long is ended with an error (the client's response is cut off, as nginx does), instead of
//! holding the client's connection for as long as the backend stalls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::observe::{RouteMetrics, count_backend_error_for, current_route};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The backend sent no part of the body for the read timeout.
#[derive(Debug)]
pub(crate) struct BodyStalled(Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the backend sent nothing of the response body for {:?}", self.0)
    }
}

impl std::error::Error for BodyStalled {}

pub(crate) struct ReadTimeout<B> {
    inner: B,
    limit: Duration,
    /// Armed on the first wait (a body already buffered never needs a timer); pushed back on
    /// every frame.
    timer: Option<Pin<Box<Sleep>>>,
    /// The route whose backend sent the body (the stall is counted under it).
    route: Option<Arc<RouteMetrics>>,
}

impl<B> ReadTimeout<B> {
    pub fn new(inner: B, limit: Duration) -> Self {
        ReadTimeout {
            inner,
            limit,
            timer: None,
            route: current_route(),
        }
    }
}

impl<B> http_body::Body for ReadTimeout<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(timer) = this.timer.as_mut() {
                    timer.as_mut().reset(Instant::now() + this.limit);
                }
                Poll::Ready(frame.map(|result| result.map_err(Into::into)))
            }
            Poll::Pending => {
                let limit = this.limit;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        count_backend_error_for(this.route.as_deref(), "read_timeout");
                        tracing::warn!(target: "fngate::gateway::backend", timeout = ?limit, "HTTP backend stalled mid-body");
                        Poll::Ready(Some(Err(Box::new(BodyStalled(limit)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
