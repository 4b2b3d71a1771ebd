//! `fngate up`'s connection limits (every listener), the process's file-descriptor limit, and the
//! default connection cap derived from it.

use std::ops::RangeInclusive;
use std::time::Duration;

use clap::Args;
use fngate_http::ConnectionLimits;

/// The default cap is this share of the fd limit per listener: five listeners, the gateway's
/// upstream connections counted as a sixth, leave 4/10 of the descriptors for function instances,
/// the store, upstream pools and files.
const FD_SHARE_PER_LISTENER: u64 = 10;
/// The default cap never goes above this, whatever the fd limit.
const MAX_DEFAULT_CONNECTIONS: usize = 10_000;
/// Nor below this (a tiny fd limit still gets a usable server).
const MIN_DEFAULT_CONNECTIONS: usize = 16;

// What each setting accepts, from a flag, an env var or the `--config` file alike.
const HEADER_SECS: RangeInclusive<u64> = 1..=3600;
const BODY_SECS: RangeInclusive<u64> = 1..=3600;
const KEEP_ALIVE_SECS: RangeInclusive<u64> = 1..=86400;
const CONNECTIONS: RangeInclusive<u64> = 1..=1_000_000;
const STREAMS: RangeInclusive<u32> = 1..=10_000;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection limits (each listener: gateway, functions, IdP, admin, OCI)")]
pub struct ListenerLimits {
    /// Seconds a client has to send a whole request head, from its first byte. A new connection
    /// must finish its TLS handshake and first request head this long after it was accepted.
    /// Over it, the connection is closed.
    #[arg(long, env = "FNGATE_HEADER_READ_TIMEOUT", value_name = "SECS", default_value_t = ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(HEADER_SECS))]
    pub header_read_timeout: u64,

    /// Seconds a request body may pause while it is being read (no byte for this long: the read
    /// fails, the gateway answers 408, and an HTTP/1 connection is closed after the answer).
    #[arg(long, env = "FNGATE_BODY_READ_TIMEOUT", value_name = "SECS", default_value_t = ConnectionLimits::DEFAULT_BODY_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(BODY_SECS))]
    pub body_read_timeout: u64,

    /// Seconds a connection with no request in progress stays open (HTTP/1 waiting for the next
    /// request, HTTP/2 with no open stream; HTTP/2 then gets GOAWAY).
    #[arg(long, env = "FNGATE_KEEP_ALIVE_TIMEOUT", value_name = "SECS", default_value_t = ConnectionLimits::DEFAULT_KEEP_ALIVE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(KEEP_ALIVE_SECS))]
    pub keep_alive_timeout: u64,

    /// Most open connections per listener; more are closed (TCP reset) as soon as they are
    /// accepted. Default: the file-descriptor limit / 10, between 16 and 10000 (fngate raises its
    /// soft limit to the hard limit at start).
    #[arg(long, env = "FNGATE_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u64).range(CONNECTIONS))]
    pub max_connections: Option<u64>,

    /// HTTP/2: most requests (streams) one connection may have open at once.
    #[arg(long, env = "FNGATE_HTTP2_MAX_CONCURRENT_STREAMS", value_name = "N", default_value_t = ConnectionLimits::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(*STREAMS.end())))]
    pub http2_max_concurrent_streams: u32,
}

impl ListenerLimits {
    /// The flags' defaults (for `fngate idp serve`, which has no such flags).
    pub fn defaults() -> Self {
        ListenerLimits {
            header_read_timeout: ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
            body_read_timeout: ConnectionLimits::DEFAULT_BODY_READ_TIMEOUT.as_secs(),
            keep_alive_timeout: ConnectionLimits::DEFAULT_KEEP_ALIVE_TIMEOUT.as_secs(),
            max_connections: None,
            http2_max_concurrent_streams: ConnectionLimits::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
        }
    }

    /// The same bounds as the flags', for values that came from the `--config` file.
    pub fn check(&self) -> Result<(), String> {
        fn within<T: PartialOrd + std::fmt::Display>(
            key: &str,
            value: T,
            range: RangeInclusive<T>,
        ) -> Result<(), String> {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(format!("{key}: {value} is not in {}..={}", range.start(), range.end()))
            }
        }
        within("header_read_timeout", self.header_read_timeout, HEADER_SECS)?;
        within("body_read_timeout", self.body_read_timeout, BODY_SECS)?;
        within("keep_alive_timeout", self.keep_alive_timeout, KEEP_ALIVE_SECS)?;
        if let Some(n) = self.max_connections {
            within("max_connections", n, CONNECTIONS)?;
        }
        within(
            "http2_max_concurrent_streams",
            self.http2_max_concurrent_streams,
            STREAMS,
        )
    }

    /// The limits every listener gets, for a process whose fd limit is `fd_limit`. Warns when an
    /// explicit `--max-connections` no longer keeps a flood on one listener from using up the
    /// descriptors the others need.
    pub fn resolve(&self, fd_limit: u64) -> ConnectionLimits {
        let max_connections = match self.max_connections {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                // Five listeners plus the gateway's upstream connections must fit in 3/4 of
                // the descriptors.
                let worst = (n as u64).saturating_mul(6);
                if worst > fd_limit / 4 * 3 {
                    tracing::warn!(
                        max_connections = n,
                        fd_limit,
                        "--max-connections {n} per listener can use up the file-descriptor limit ({fd_limit}): a flood on one listener may then stop the others accepting; raise the limit (ulimit -n) or lower --max-connections"
                    );
                }
                n
            }
            None => default_max_connections(fd_limit),
        };
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout),
            max_connections,
            http2_max_concurrent_streams: self.http2_max_concurrent_streams,
        }
    }
}

fn default_max_connections(fd_limit: u64) -> usize {
    let share = usize::try_from(fd_limit / FD_SHARE_PER_LISTENER).unwrap_or(usize::MAX);
    share.clamp(MIN_DEFAULT_CONNECTIONS, MAX_DEFAULT_CONNECTIONS)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (many connections need many descriptors;
/// the soft default is often 1024) and returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(err) => {
                tracing::warn!(soft, hard, error = %err, "cannot raise the file-descriptor limit; keeping the soft limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the file-descriptor limit; assuming 1024");
            1024
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_is_a_tenth_of_the_fd_limit_within_bounds() {
        assert_eq!(default_max_connections(20_000), 2_000);
        assert_eq!(default_max_connections(1_048_576), 10_000);
        assert_eq!(default_max_connections(640), 64);
        assert_eq!(default_max_connections(64), 16);
    }
}
