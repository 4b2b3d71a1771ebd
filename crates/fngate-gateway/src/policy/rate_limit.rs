//! Deployment-wide rate limiting (`rateLimiting`): a token bucket (governor, GCRA) with capacity
//! equal to the per-second rate, keyed by client IP (IPv6 by /64) or shared (`TOTAL`). This is
//! the node's own limiter; with `--redis-url` the same GCRA runs in Redis for all nodes
//! (`shared_limit`) and this one is the fallback while Redis is unreachable.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

pub(crate) struct RateLimiter {
    per_second: u32,
    per_client: bool,
    local: Local,
}

enum Local {
    Total(DefaultDirectRateLimiter),
    PerClient {
        limiter: DefaultKeyedRateLimiter<IpAddr>,
        checks: AtomicU64,
    },
}

/// How often (in checks) idle per-client buckets are dropped, bounding memory.
const RETAIN_EVERY: u64 = 4096;

impl RateLimiter {
    pub fn new(per_second: u32, per_client: bool) -> Option<Self> {
        let quota = Quota::per_second(NonZeroU32::new(per_second)?);
        let local = if per_client {
            Local::PerClient {
                limiter: governor::RateLimiter::keyed(quota),
                checks: AtomicU64::new(0),
            }
        } else {
            Local::Total(governor::RateLimiter::direct(quota))
        };
        Some(RateLimiter {
            per_second,
            per_client,
            local,
        })
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// The bucket's name in Redis: per deployment and rate (a changed limit starts afresh), and
    /// per client (IPv6 by /64) for `CLIENT_IP`.
    pub fn bucket(&self, deployment: &str, client: IpAddr) -> String {
        if self.per_client {
            format!("fngate:rl:{deployment}:{}:ip:{}", self.per_second, client_key(client))
        } else {
            format!("fngate:rl:{deployment}:{}:total", self.per_second)
        }
    }

    /// `Err(wait)` when the request must be refused; `wait` is when it could be retried.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let clock = DefaultClock::default();
        let result = match &self.local {
            Local::Total(limiter) => limiter.check(),
            Local::PerClient { limiter, checks } => {
                if checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
                    limiter.retain_recent();
                }
                limiter.check_key(&client_key(client))
            }
        };
        result.map_err(|not_until| not_until.wait_time_from(clock.now()))
    }
}

/// IPv4 addresses count one by one; IPv6 addresses by their /64 prefix (OCI does the same).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_buckets_group_ipv6_by_64() {
        let limiter = RateLimiter::new(2, true).unwrap();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(b).is_ok());
        let wait = limiter.check(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(limiter.check(other).is_ok(), "another /64 has its own bucket");
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check(v4).is_ok());
    }

    #[test]
    fn total_is_shared_and_retry_after_rounds_up() {
        let limiter = RateLimiter::new(1, false).unwrap();
        assert!(limiter.check("10.0.0.1".parse().unwrap()).is_ok());
        assert!(limiter.check("10.0.0.2".parse().unwrap()).is_err());
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert!(RateLimiter::new(0, false).is_none());
    }
}
