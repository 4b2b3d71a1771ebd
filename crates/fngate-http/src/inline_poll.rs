//! Polls a future whose parts wake each other — hyper's client `SendRequest` and its connection
//! driver, driven together in the calling task — without tokio treating that as a yield.
//!
//! `SendRequest` and the driver talk through channels: queueing the request wakes the driver, and
//! the driver handing over the response wakes the caller. In one task both wakers are the task's
//! own, and tokio reschedules a task that wakes itself while running as a *yield*: to the back of
//! the run queue, plus a futex wake-up of another worker thread, which then often steals it
//! (strace showed two such hand-offs per call). Here the parts get a waker that, while the future
//! is being polled, only records the wake — the future is polled again at once — and otherwise
//! wakes the task (I/O readiness, the FDK's answer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

const IDLE: u8 = 0;
const POLLING: u8 = 1;
const WOKEN_WHILE_POLLING: u8 = 2;
/// Re-polls within one poll of the task before yielding for real (a future that keeps waking
/// itself, e.g. out of tokio's coop budget, must not spin).
const MAX_REPOLLS: usize = 8;

struct Shared {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self
            .state
            .compare_exchange(POLLING, WOKEN_WHILE_POLLING, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) | Err(WOKEN_WHILE_POLLING) => {}
            Err(_) => self.task.wake(),
        }
    }
}

/// One per connection, reused across calls: the waker handed to hyper stays the same, so its
/// `will_wake` checks hold and nothing is cloned or allocated per call.
pub struct InlinePoll {
    shared: Arc<Shared>,
    waker: Waker,
}

impl Default for InlinePoll {
    fn default() -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(shared.clone());
        InlinePoll { shared, waker }
    }
}

impl InlinePoll {
    /// Runs `future` to completion in the current task.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| self.poll(future.as_mut(), cx)).await
    }

    fn poll<F: Future>(&self, mut future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.shared.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_REPOLLS {
            self.shared.state.store(POLLING, Ordering::SeqCst);
            if let Poll::Ready(output) = future.as_mut().poll(&mut inner) {
                self.shared.state.store(IDLE, Ordering::SeqCst);
                return Poll::Ready(output);
            }
            // Back to IDLE unless a wake came in meanwhile (then poll again, now). A wake after
            // this exchange finds IDLE and wakes the task.
            if self
                .shared
                .state
                .compare_exchange(POLLING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Poll::Pending;
            }
        }
        self.shared.state.store(IDLE, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wakes itself `n` times before finishing, as hyper's halves do to each other.
    struct SelfWaking(usize);

    impl Future for SelfWaking {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn self_wakes_are_polled_again_at_once_and_bounded() {
        let inline = InlinePoll::default();
        // Within one poll of the task.
        let mut short = std::pin::pin!(SelfWaking(3));
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(inline.poll(short.as_mut(), &mut cx).is_ready());
        // More than the bound: yields (a real wake), then finishes.
        let long = inline.run(SelfWaking(3 * MAX_REPOLLS));
        tokio::time::timeout(std::time::Duration::from_secs(5), long)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn wakes_from_elsewhere_reach_the_task() {
        let inline = InlinePoll::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            tx.send(7).unwrap();
        });
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), inline.run(rx)).await;
        assert_eq!(answer.expect("the wake from the other task arrived").unwrap(), 7);
    }
}
