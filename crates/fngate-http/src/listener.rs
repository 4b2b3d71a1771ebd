//! The accept step of every fngate listener (gateway, functions, IdP, admin): the next
//! connection under the listener's cap, or none once shutdown is asked for.
//!
//! Over the cap, a connection is accepted and closed at once with a reset: no byte is read, no TLS
//! is started, and the descriptor is free again before the next accept. Out of descriptors
//! (EMFILE/ENFILE, which the caps are sized to avoid: `fngate up` docs), the listener frees a
//! spare descriptor it holds for this, accepts the waiting client, closes it and takes the spare
//! back, so clients are told at once instead of waiting in the backlog while the accept loop
//! fails. Either case logs one line per [`LOG_EVERY`] with how many it stands for.

use std::fs::File;
use std::io;
use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::connection::Connection;
use crate::limits::ConnectionLimits;
use crate::log_every::LogEvery;

/// After an accept error that is not the client's doing and that shedding did not clear, wait
/// this long before trying again instead of spinning on the error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// At most one "refusing connections" (or "accept failed") line per listener this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

pub const REFUSED_METRIC: &str = "fngate_listener_connections_refused_total";
pub const OPEN_METRIC: &str = "fngate_listener_open_connections";

/// A bound socket with its cap and timeouts.
pub struct Listener {
    tcp: TcpListener,
    name: &'static str,
    limits: ConnectionLimits,
    open: OpenConnections,
    /// Freed to accept-and-close one client when the process is out of descriptors.
    spare: Option<File>,
    refused_log: LogEvery,
    error_log: LogEvery,
    refused_limit: metrics::Counter,
    refused_fds: metrics::Counter,
}

/// A connection from [`Listener::accept`].
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub conn: Connection,
}

impl Listener {
    /// `name` names the listener in logs and metrics (`gateway`, `functions`, `idp`, `admin`).
    pub fn new(tcp: TcpListener, name: &'static str, limits: ConnectionLimits) -> Listener {
        let max = limits
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        let limits = ConnectionLimits {
            max_connections: max,
            ..limits
        };
        Listener {
            tcp,
            name,
            limits,
            open: OpenConnections {
                slots: Arc::new(Semaphore::new(max)),
                max,
                gauge: metrics::gauge!(OPEN_METRIC, "listener" => name),
            },
            spare: open_spare(),
            refused_log: LogEvery::new(LOG_EVERY),
            error_log: LogEvery::new(LOG_EVERY),
            refused_limit: metrics::counter!(REFUSED_METRIC, "listener" => name, "reason" => "limit"),
            refused_fds: metrics::counter!(REFUSED_METRIC, "listener" => name, "reason" => "fds"),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// The open connections, counted; kept after the listener is dropped so shutdown can wait.
    pub fn open_connections(&self) -> OpenConnections {
        self.open.clone()
    }

    /// The next connection with `TCP_NODELAY` set (a response written in more than one piece
    /// must not wait for the peer's delayed ACK), or `None` once `stop` is cancelled.
    ///
    /// A client that gave up before it was accepted is skipped silently; over the cap or out of
    /// descriptors, clients are closed at once (module docs); any other error is logged and
    /// retried after a pause, so the connections already open keep being served.
    pub async fn accept(&mut self, stop: &CancellationToken) -> Option<Accepted> {
        loop {
            let accepted = tokio::select! {
                accepted = self.tcp.accept() => accepted,
                () = stop.cancelled() => return None,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = self.open.slots.clone().try_acquire_owned() else {
                        self.refuse_over_limit(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let slot = Slot::new(permit, self.open.gauge.clone());
                    return Some(Accepted {
                        stream,
                        peer,
                        conn: Connection::new(self.limits, self.name, slot),
                    });
                }
                Err(err) if matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) => {}
                Err(err) => {
                    let out_of_fds = matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
                    let shed = out_of_fds && self.shed_one().await;
                    if let Some(times) = self.error_log.hit() {
                        if out_of_fds {
                            tracing::warn!(target: "fngate::listener", listener = self.name, error = %err, times,
                                "out of file descriptors: closing new connections at once (see --max-connections)");
                        } else {
                            tracing::warn!(target: "fngate::listener", listener = self.name, error = %err, times,
                                "accept failed; retrying");
                        }
                    }
                    if !shed {
                        tokio::select! {
                            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                            () = stop.cancelled() => return None,
                        }
                    }
                }
            }
        }
    }

    fn refuse_over_limit(&mut self, stream: TcpStream) {
        close_with_reset(stream);
        self.refused_limit.increment(1);
        if let Some(refused) = self.refused_log.hit() {
            tracing::warn!(target: "fngate::listener", listener = self.name, max_connections = self.open.max, refused,
                "connection limit reached: closing new connections at once (--max-connections)");
        }
    }

    /// Out of descriptors: spends the spare on accepting one waiting client and closing it.
    /// False when there was no spare or no client (then the caller pauses).
    async fn shed_one(&mut self) -> bool {
        let Some(spare) = self.spare.take().or_else(open_spare) else {
            return false;
        };
        drop(spare);
        let tcp = &self.tcp;
        let waiting = std::future::poll_fn(|cx| match tcp.poll_accept(cx) {
            Poll::Ready(accepted) => Poll::Ready(accepted.ok()),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        let shed = match waiting {
            Some((stream, _)) => {
                close_with_reset(stream);
                self.refused_fds.increment(1);
                true
            }
            None => false,
        };
        self.spare = open_spare();
        shed
    }
}

/// RST instead of FIN: the descriptor and the kernel's socket go at once (no TIME_WAIT on this
/// side), and the client learns it was refused.
fn close_with_reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn open_spare() -> Option<File> {
    File::open("/dev/null").ok()
}

/// A listener's open connections: a semaphore with one permit per allowed connection.
#[derive(Clone)]
pub struct OpenConnections {
    slots: Arc<Semaphore>,
    max: usize,
    gauge: metrics::Gauge,
}

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// Waits until every connection has closed (call once the listener is dropped).
    pub async fn all_closed(&self) {
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(all).await;
    }
}

/// One connection's place under the cap; given back when the connection ends.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    gauge: metrics::Gauge,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, gauge: metrics::Gauge) -> Self {
        gauge.increment(1);
        Slot { _permit: permit, gauge }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gauge.decrement(1);
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn over_the_cap_clients_are_reset_at_once_and_a_freed_slot_is_reused() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let limits = ConnectionLimits {
            max_connections: 2,
            ..ConnectionLimits::default()
        };
        let mut listener = Listener::new(tcp, "test", limits);
        let open = listener.open_connections();
        let stop = CancellationToken::new();
        let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
        let accepting = tokio::spawn(async move {
            while let Some(accepted) = listener.accept(&stop).await {
                assert!(accepted.stream.nodelay().unwrap());
                held_tx.send(accepted).unwrap();
            }
        });
        let _first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        let one = held_rx.recv().await.unwrap();
        let _two = held_rx.recv().await.unwrap();
        assert_eq!(open.count(), 2);

        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let refused = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
            .await
            .expect("the excess connection is closed at once, not left waiting");
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset),
            "closed with a reset"
        );
        assert_eq!(open.count(), 2);

        drop(one);
        assert_eq!(open.count(), 1, "a closed connection gives its slot back");
        let fourth = TcpStream::connect(addr).await.unwrap();
        let accepted = held_rx.recv().await.unwrap();
        assert_eq!(accepted.peer, fourth.local_addr().unwrap());
        accepting.abort();
    }
}
