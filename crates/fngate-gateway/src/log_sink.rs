//! Where access-log lines go: stdout, through one shared buffer that is written out when it holds
//! [`FLUSH_AT`] bytes and every [`FLUSH_INTERVAL`] (the listener's flusher), instead of one
//! `write(2)` per request. Lines are whole and in order; at most one interval's worth is lost if
//! the process is killed (a graceful stop flushes).

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How often the listener writes out what has gathered.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Written out at once past this size, so a burst never holds much.
const FLUSH_AT: usize = 32 * 1024;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Appends one line: `write_line` writes it (without the newline) into the buffer.
pub(crate) fn append(write_line: impl FnOnce(&mut Vec<u8>)) {
    let mut buffer = BUFFER.lock().unwrap_or_else(PoisonError::into_inner);
    write_line(&mut buffer);
    buffer.push(b'\n');
    if buffer.len() >= FLUSH_AT {
        write_out(&mut buffer);
    }
}

/// Writes out whatever has gathered.
pub(crate) fn flush() {
    let mut buffer = BUFFER.lock().unwrap_or_else(PoisonError::into_inner);
    if !buffer.is_empty() {
        write_out(&mut buffer);
    }
}

fn write_out(buffer: &mut Vec<u8>) {
    // Errors are dropped: a closed stdout (e.g. `fngate up | head`) must not fail a request.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(buffer).and_then(|()| stdout.flush());
    buffer.clear();
}

/// Flushes every [`FLUSH_INTERVAL`] until dropped; the last flush happens on drop.
pub(crate) struct Flusher(tokio::task::JoinHandle<()>);

impl Flusher {
    pub fn start() -> Flusher {
        Flusher(tokio::spawn(async {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                flush();
            }
        }))
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.0.abort();
        flush();
    }
}
