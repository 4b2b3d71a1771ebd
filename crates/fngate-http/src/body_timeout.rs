//! The body-read timeout: a request body whose client sends nothing for the limit while the
//! server waits for it ends with [`BodyReadTimeout`], so a client trickling a body (or sending
//! none after promising one) cannot hold a handler, a function call or an upstream request open.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::connection::Activity;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client sent no part of the request body for the body-read timeout. Handlers find it among
/// a body error's sources (`error_sources(err).any(|e| e.is::<BodyReadTimeout>())`) to answer 408.
#[derive(Debug)]
pub struct BodyReadTimeout(pub Duration);

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the client sent nothing of the request body for {:?}", self.0)
    }
}

impl std::error::Error for BodyReadTimeout {}

pin_project_lite::pin_project! {
    /// A request body with the body-read timeout; what the connection's service hands its handler.
    pub struct TimedBody<B> {
        #[pin]
        inner: B,
        limit: Duration,
        // Armed when the reader starts waiting (a body read as fast as it comes never needs one).
        timer: Option<Pin<Box<Sleep>>>,
        waiting: bool,
        // Told when the timeout hits, so an HTTP/1 connection is closed after the answer.
        activity: Option<Arc<Activity>>,
    }
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, limit: Duration) -> Self {
        TimedBody {
            inner,
            limit,
            timer: None,
            waiting: false,
            activity: None,
        }
    }

    pub(crate) fn on_connection(inner: B, limit: Duration, activity: Arc<Activity>) -> Self {
        TimedBody {
            activity: Some(activity),
            ..TimedBody::new(inner, limit)
        }
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            *this.waiting = false;
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        // The limit counts from when the reader started waiting, not from the last frame: a
        // reader that paused (back-pressure from an upstream) does not use up the client's time.
        let limit = *this.limit;
        if !*this.waiting {
            *this.waiting = true;
            let deadline = Instant::now() + limit;
            match this.timer.as_mut() {
                Some(timer) => timer.as_mut().reset(deadline),
                None => *this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                if let Some(activity) = this.activity.as_ref() {
                    activity.close_after_response();
                }
                Poll::Ready(Some(Err(Box::new(BodyReadTimeout(limit)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    /// A body whose frames come from a channel: the test decides when the client "sends".
    fn channel_body() -> (
        tokio::sync::mpsc::Sender<Result<Frame<Bytes>, BoxError>>,
        impl http_body::Body<Data = Bytes, Error = BoxError>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        (tx, http_body_util::StreamBody::new(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_coming_is_read_to_the_end() {
        let (tx, body) = channel_body();
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await.unwrap();
            }
        });
        let body = TimedBody::new(body, Duration::from_secs(5));
        let read = body.collect().await.expect("each part came within the limit");
        assert_eq!(read.to_bytes(), "xxxxx", "20 s in all, never 5 s without a part");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_ends_with_the_timeout_error() {
        let (tx, body) = channel_body();
        tx.send(Ok(Frame::data(Bytes::from_static(b"first")))).await.unwrap();
        let started = Instant::now();
        let err = TimedBody::new(body, Duration::from_secs(5))
            .collect()
            .await
            .unwrap_err();
        assert!(err.is::<BodyReadTimeout>(), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_paused_does_not_use_up_the_clients_time() {
        let (tx, body) = channel_body();
        let mut body = std::pin::pin!(TimedBody::new(body, Duration::from_secs(5)));
        tx.send(Ok(Frame::data(Bytes::from_static(b"a")))).await.unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        // The reader does other things for longer than the limit, then waits again.
        tokio::time::sleep(Duration::from_secs(30)).await;
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"b")))).await.unwrap();
        });
        assert!(body.frame().await.unwrap().is_ok(), "4 s of waiting, within the limit");
        sender.await.unwrap();
    }
}
