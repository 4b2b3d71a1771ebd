//! The unix-socket connection to an FDK, watched by the runtime for readability only.
//!
//! tokio registers its sockets for both directions, and a unix stream socket signals "writable"
//! to epoll every time the peer reads from it: the FDK reading each request woke a runtime worker
//! for nothing, between the request and the answer (strace: one extra sleep and wake per call).
//! Here writes go straight to the socket; only a write that would block waits for writability, on
//! a duplicate descriptor registered for that wait alone and dropped after it.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

pub struct FdkStream {
    socket: AsyncFd<UnixStream>,
    /// Present only while a write waits for room in the socket buffer.
    write_wait: Option<AsyncFd<OwnedFd>>,
}

impl FdkStream {
    pub async fn connect(path: &Path) -> io::Result<FdkStream> {
        // tokio's connect waits for the (unix: immediate) connection; `into_std` deregisters it
        // and leaves it non-blocking.
        let socket = tokio::net::UnixStream::connect(path).await?.into_std()?;
        Ok(FdkStream {
            socket: register(socket, Interest::READABLE)?,
            write_wait: None,
        })
    }

    /// Writes with `write`, waiting for writability only when the socket buffer is full.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match write(self.socket.get_ref()) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                done => {
                    self.write_wait = None;
                    return Poll::Ready(done);
                }
            }
            if self.write_wait.is_none() {
                let dup = self.socket.get_ref().as_fd().try_clone_to_owned()?;
                self.write_wait = Some(register(dup, Interest::WRITABLE)?);
            }
            let Some(wait) = self.write_wait.as_ref() else { continue };
            let mut ready = ready!(wait.poll_write_ready(cx))?;
            // Cleared before the retry, so room freed after it wakes us again.
            ready.clear_ready();
        }
    }
}

/// Registers a descriptor the value owns (a socket or an `OwnedFd`) with the current runtime.
fn register<T: AsRawFd + Into<OwnedFd>>(owner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: `owner` owns its descriptor, so it stays open and refers to the same socket for as
    // long as the `AsyncFd` holds it.
    Ok(unsafe { AsyncFd::register_with_interest(owner, interest) }?)
}

impl AsyncRead for FdkStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut ready = ready!(self.socket.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let unfilled_len = unfilled.len();
            match ready.try_io(|socket| socket.get_ref().read(unfilled)) {
                Ok(Ok(read)) => {
                    // A short read drained the socket (as tokio's own sockets assume): the next
                    // read waits for an event instead of trying and getting EAGAIN. The guard's
                    // tick keeps an event that arrived meanwhile.
                    if read > 0 && read < unfilled_len {
                        ready.clear_ready();
                    }
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(err)) => return Poll::Ready(Err(err)),
                // Would block: readiness was cleared, wait for the next event.
                Err(_) => {}
            }
        }
    }
}

impl AsyncWrite for FdkStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, |mut socket| socket.write(data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |mut socket| socket.write_vectored(data))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A write far larger than the socket buffer completes only by waiting for the reader: the
    /// path that registers for writability.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_writes_wait_for_room_and_data_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let payload: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let peer = tokio::spawn(async move {
            let (mut peer, _) = listener.accept().await.unwrap();
            let mut received = vec![0; expected.len()];
            peer.read_exact(&mut received).await.unwrap();
            assert!(received == expected, "bytes arrive intact and in order");
            peer.write_all(b"done").await.unwrap();
        });
        let mut stream = FdkStream::connect(&path).await.unwrap();
        stream.write_all(&payload).await.unwrap();
        let mut answer = [0; 4];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"done");
        peer.await.unwrap();
        // The peer closed: end of stream.
        assert_eq!(stream.read(&mut answer).await.unwrap(), 0);
    }
}
