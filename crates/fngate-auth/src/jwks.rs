//! Remote key sources (`REMOTE_JWKS`, `REMOTE_DISCOVERY`): fetched when a deployment loads, cached per
//! URI and shared by every deployment using it, refreshed in the background before the cache duration
//! runs out, and refetched when a token names an unknown `kid` — single-flight, at most once per
//! minimum interval, keeping the last good keys when a fetch fails (Microsoft's signing-key rollover
//! guidance).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use fngate_http::error_chain;
use serde_json::Value;

use crate::AuthConfigError;
use crate::keys::KeySet;

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RemoteSource {
    Jwks(String),
    /// OpenID discovery document; its `jwks_uri` is read on every fetch.
    Discovery(String),
}

impl RemoteSource {
    pub(crate) fn uri(&self) -> &str {
        match self {
            RemoteSource::Jwks(u) | RemoteSource::Discovery(u) => u,
        }
    }
}

/// Fetch tuning shared by all sources of one service.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    pub min_refetch_interval: Duration,
    pub max_document_bytes: usize,
}

/// One remote key source and its cache.
pub(crate) struct RemoteKeys {
    source: RemoteSource,
    client: reqwest::Client,
    settings: FetchSettings,
    keys: ArcSwapOption<KeySet>,
    /// Why the last fetch failed (for the 500 log line when no keys were ever fetched).
    last_error: Mutex<Option<String>>,
    /// Held while fetching: concurrent callers wait for that fetch instead of starting their own.
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Smallest `maxCacheDurationInHours` among the deployments using this source, in milliseconds.
    max_cache_ms: AtomicU64,
    /// Completed fetch attempts (successful or not), for tests and metrics.
    fetches: AtomicU64,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
}

impl RemoteKeys {
    pub(crate) fn new(
        source: RemoteSource,
        client: reqwest::Client,
        settings: FetchSettings,
        max_cache: Duration,
    ) -> Arc<Self> {
        let this = Arc::new(RemoteKeys {
            source,
            client,
            settings,
            keys: ArcSwapOption::empty(),
            last_error: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            max_cache_ms: AtomicU64::new(duration_ms(max_cache)),
            fetches: AtomicU64::new(0),
        });
        spawn_background_refresh(Arc::downgrade(&this));
        this
    }

    pub(crate) fn uri(&self) -> &str {
        self.source.uri()
    }

    /// A deployment asking for a shorter cache duration shortens it for everyone sharing the source.
    pub(crate) fn lower_max_cache(&self, max_cache: Duration) {
        self.max_cache_ms.fetch_min(duration_ms(max_cache), Ordering::Relaxed);
    }

    fn max_cache(&self) -> Duration {
        Duration::from_millis(self.max_cache_ms.load(Ordering::Relaxed).max(1))
    }

    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.keys.load_full()
    }

    /// Whether `kid` is currently published (no refcount traffic: this is on the cache-hit path).
    pub(crate) fn contains_kid(&self, kid: &str) -> bool {
        self.keys.load().as_ref().is_some_and(|set| set.contains_kid(kid))
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// First load (deployment build): fetch unless another deployment already did.
    pub(crate) async fn ensure_loaded(&self) {
        if self.keys.load().is_some() {
            return;
        }
        let mut state = self.refresh.lock().await;
        if self.keys.load().is_none() {
            self.fetch_locked(&mut state).await;
        }
    }

    /// A token named `kid`, which we do not know. Refetch if no fetch happened within the minimum
    /// interval; callers arriving while a fetch runs wait for it and use its result.
    pub(crate) async fn refetch_for_unknown_kid(&self, kid: &str) -> Option<Arc<KeySet>> {
        let mut state = self.refresh.lock().await;
        if let Some(keys) = self.current()
            && keys.contains_kid(kid)
        {
            return Some(keys);
        }
        let recently = state
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.settings.min_refetch_interval);
        if !recently {
            tracing::info!(uri = %self.uri(), kid, "unknown key id: refetching the JWKS");
            self.fetch_locked(&mut state).await;
        }
        self.current()
    }

    /// With no keys at all, requests may try a fetch (rate-limited like an unknown `kid`).
    pub(crate) async fn retry_when_empty(&self) -> Option<Arc<KeySet>> {
        let mut state = self.refresh.lock().await;
        if self.keys.load().is_none()
            && state
                .last_attempt
                .is_none_or(|t| t.elapsed() >= self.settings.min_refetch_interval)
        {
            self.fetch_locked(&mut state).await;
        }
        self.current()
    }

    async fn fetch_locked(&self, state: &mut RefreshState) -> bool {
        state.last_attempt = Some(Instant::now());
        let result = self.fetch_keys().await;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(set) => {
                tracing::debug!(uri = %self.uri(), keys = set.len(), "JWKS fetched");
                self.keys.store(Some(Arc::new(set)));
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
                true
            }
            Err(why) => {
                let keeping = if self.keys.load().is_some() {
                    "keeping the last good keys"
                } else {
                    "no keys available: requests get 500 until a fetch succeeds"
                };
                tracing::warn!(uri = %self.uri(), error = %why, "JWKS fetch failed; {keeping}");
                if let Ok(mut e) = self.last_error.lock() {
                    *e = Some(why);
                }
                false
            }
        }
    }

    async fn fetch_keys(&self) -> Result<KeySet, String> {
        fetch_key_set(&self.client, &self.source, self.settings.max_document_bytes).await
    }
}

/// One fetch of `source`'s key set (through its discovery document if it has one), outside any
/// cache: what the cache refreshes with and what `validate --server-check` probes.
pub(crate) async fn fetch_key_set(
    client: &reqwest::Client,
    source: &RemoteSource,
    max_document_bytes: usize,
) -> Result<KeySet, String> {
    let jwks_uri = match source {
        RemoteSource::Jwks(uri) => uri.clone(),
        RemoteSource::Discovery(uri) => {
            let doc = get_json(client, uri, max_document_bytes).await?;
            let jwks_uri = doc
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("discovery document {uri} has no 'jwks_uri'"))?;
            check_remote_uri(jwks_uri, "jwks_uri").map_err(|e| e.0)?;
            jwks_uri.to_owned()
        }
    };
    let doc = get_json(client, &jwks_uri, max_document_bytes).await?;
    let (set, skipped) = KeySet::from_jwks(&doc).map_err(|e| format!("{jwks_uri}: {e}"))?;
    for why in &skipped {
        tracing::warn!(uri = %jwks_uri, "JWKS key skipped: {why}");
    }
    if set.len() == 0 {
        return Err(format!("{jwks_uri}: the JWKS has no usable signing key"));
    }
    Ok(set)
}

async fn get_json(client: &reqwest::Client, uri: &str, limit: usize) -> Result<Value, String> {
    let mut response = client
        .get(uri)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {uri}: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {uri}: HTTP {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("GET {uri}: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!("GET {uri}: document larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {uri}: not JSON: {e}"))
}

// === where key fetches may go ===

/// Redirects followed per fetch, at most.
const MAX_REDIRECTS: usize = 3;

/// Remote key URIs must be absolute http(s); plain http only to loopback (a dev IdP or a test server),
/// since keys fetched in clear text could be swapped by anyone on the path.
pub(crate) fn check_remote_uri(uri: &str, field: &str) -> Result<(), AuthConfigError> {
    let parsed = url::Url::parse(uri).map_err(|e| AuthConfigError(format!("{field}: '{uri}' is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(AuthConfigError(format!(
            "{field}: '{uri}' must use https (plain http is accepted only for loopback addresses)"
        ))),
        other => Err(AuthConfigError(format!(
            "{field}: '{uri}' has unsupported scheme '{other}'"
        ))),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The redirect policy of every key fetch: a hop is followed only where the configured URI itself
/// could have pointed ([`check_remote_uri`]), it never leaves https for http, and it never moves
/// from a host off this machine onto a loopback one (a remote server must not steer the gateway to
/// local services). Anything else fails the fetch, naming both URLs.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let verdict = match attempt.previous().last() {
            Some(from) => check_redirect(from, attempt.url()),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(why),
        }
    })
}

fn check_redirect(from: &url::Url, to: &url::Url) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("refused redirect from {from} to {to}: {why}"));
    if let Err(e) = check_remote_uri(to.as_str(), "redirect") {
        return refuse(e.0.trim_start_matches("redirect: "));
    }
    if from.scheme() == "https" && to.scheme() != "https" {
        return refuse("a key fetch never leaves https");
    }
    if !is_loopback(from) && is_loopback(to) {
        return refuse("a remote host may not redirect to a loopback address");
    }
    Ok(())
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Refreshes at three quarters of the cache duration, so keys never go stale while the IdP is up;
/// after a failure, retries at the minimum refetch interval. Ends when the last deployment drops the source.
fn spawn_background_refresh(weak: Weak<RemoteKeys>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let delay = {
                let Some(this) = weak.upgrade() else { return };
                let state = this.refresh.lock().await;
                let healthy = this.keys.load().is_some() && this.last_error().is_none();
                let period = if healthy {
                    this.max_cache().mul_f64(0.75)
                } else {
                    this.settings.min_refetch_interval
                };
                let since = state.last_attempt.map(|t| t.elapsed()).unwrap_or(period);
                period.saturating_sub(since).max(Duration::from_millis(50))
            };
            tokio::time::sleep(delay).await;
            let Some(this) = weak.upgrade() else { return };
            let mut state = this.refresh.lock().await;
            let healthy = this.keys.load().is_some() && this.last_error().is_none();
            let period = if healthy {
                this.max_cache().mul_f64(0.75)
            } else {
                this.settings.min_refetch_interval
            };
            if state.last_attempt.is_none_or(|t| t.elapsed() >= period) {
                this.fetch_locked(&mut state).await;
            }
        }
    });
}
