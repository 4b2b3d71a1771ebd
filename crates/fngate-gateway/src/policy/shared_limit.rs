//! Rate limits shared by every node (`fngate up --redis-url`): the same GCRA as the local
//! limiter (capacity = the per-second rate, one request's worth refilled every 1/rate s), run
//! atomically in Redis as one Lua script on Redis's own clock, so the nodes' clocks do not
//! matter. While Redis does not answer within [`TIMEOUT`], each node falls back to its local
//! limiter (one warning per outage) and tries Redis again after [`BACK_OFF`].

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::rate_limit::RateLimiter;

/// Longest a request waits for Redis before the local limiter decides.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(100);
/// How long a node uses its local limits after Redis failed, before asking Redis again.
pub(crate) const BACK_OFF: Duration = Duration::from_secs(1);

/// KEYS[1] the bucket; ARGV[1] the emission interval and ARGV[2] the burst tolerance, both in
/// microseconds. Returns {1, 0} when admitted, {0, wait_us} when not. The bucket holds the
/// theoretical arrival time (TAT) and expires once it is in the past.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allow_at = next_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, 0}
"#;

pub struct SharedLimits {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Made anew after a failure: a manager whose server went away may keep failing after the
    /// server is back.
    connection: Mutex<ConnectionManager>,
    script: redis::Script,
    /// Set while Redis is considered down: local limits until then.
    down_until: Mutex<Option<Instant>>,
    /// True from the warning of an outage until Redis answers again.
    warned: AtomicBool,
    shown: String,
}

impl SharedLimits {
    /// Checks the URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS is not
    /// built in) and prepares a connection made on first use, so a Redis that is down at start
    /// only means local limits until it answers.
    pub fn new(url: &str) -> Result<SharedLimits, String> {
        let client = redis::Client::open(url).map_err(|err| format!("not a usable Redis URL: {err}"))?;
        let info = client.get_connection_info();
        let shown = info.addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(BACK_OFF);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|err| format!("Redis at {shown}: {err}"))?;
        Ok(SharedLimits {
            client,
            config,
            connection: Mutex::new(connection),
            script: redis::Script::new(GCRA),
            down_until: Mutex::new(None),
            warned: AtomicBool::new(false),
            shown,
        })
    }

    /// `host:port` of the Redis server (never a password).
    pub fn address(&self) -> &str {
        &self.shown
    }

    /// Admits or refuses one request of `deployment` from `client` against `local`'s limit.
    pub(crate) async fn check(&self, deployment: &str, local: &RateLimiter, client: IpAddr) -> Result<(), Duration> {
        if self.usable() {
            let per_second = u64::from(local.per_second().max(1));
            let interval = 1_000_000 / per_second;
            let tolerance = interval * per_second;
            let Some(mut connection) = self.connection.lock().ok().map(|c| c.clone()) else {
                return local.check(client);
            };
            let call = async {
                self.script
                    .key(local.bucket(deployment, client))
                    .arg(interval)
                    .arg(tolerance)
                    .invoke_async::<(i64, i64)>(&mut connection)
                    .await
            };
            match tokio::time::timeout(TIMEOUT, call).await {
                Ok(Ok((admitted, wait_us))) => {
                    self.answered();
                    return if admitted == 1 {
                        Ok(())
                    } else {
                        Err(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)))
                    };
                }
                Ok(Err(err)) => self.failed(&err.to_string()),
                Err(_) => self.failed(&format!("no answer within {} ms", TIMEOUT.as_millis())),
            }
        }
        local.check(client)
    }

    fn usable(&self) -> bool {
        let mut down = self.down_until.lock().unwrap_or_else(|e| e.into_inner());
        match *down {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                *down = None;
                true
            }
            None => true,
        }
    }

    fn failed(&self, error: &str) {
        if let Ok(mut down) = self.down_until.lock() {
            *down = Some(Instant::now() + BACK_OFF);
        }
        if let (Ok(fresh), Ok(mut connection)) = (
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()),
            self.connection.lock(),
        ) {
            *connection = fresh;
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: "fngate::gateway", redis = %self.shown, error = %error,
                "Redis unreachable: rate limits are per node until it answers again");
        }
    }

    fn answered(&self) {
        if self.warned.swap(false, Ordering::Relaxed) {
            tracing::info!(target: "fngate::gateway", redis = %self.shown, "Redis answers again: rate limits are shared");
        }
    }
}
