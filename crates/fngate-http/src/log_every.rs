//! A log line that may be due thousands of times a second (every refused connection, every failed
//! accept, every failed authentication) written at most once per interval, with how many times it
//! was due meanwhile.

use std::time::Duration;

use tokio::time::Instant;

pub struct LogEvery {
    interval: Duration,
    last: Option<Instant>,
    /// Occurrences since the last line, the one that triggers the next line included.
    pending: u64,
}

impl LogEvery {
    pub fn new(interval: Duration) -> Self {
        LogEvery {
            interval,
            last: None,
            pending: 0,
        }
    }

    /// Counts one occurrence; `Some(n)` when a line is due now, `n` being the occurrences it
    /// stands for.
    pub fn hit(&mut self) -> Option<u64> {
        self.pending += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < self.interval) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

impl std::fmt::Debug for LogEvery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEvery")
            .field("interval", &self.interval)
            .field("pending", &self.pending)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_counting_what_it_stands_for() {
        let mut log = LogEvery::new(Duration::from_secs(10));
        assert_eq!(log.hit(), Some(1), "the first occurrence is logged at once");
        for _ in 0..999 {
            assert_eq!(log.hit(), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            log.hit(),
            Some(1000),
            "the next line counts the 999 held back and itself"
        );
        assert_eq!(log.hit(), None);
    }
}
