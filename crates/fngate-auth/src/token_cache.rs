//! Verified tokens, keyed by a hash of (policy, token): a client reusing its token pays for RSA
//! verification once or twice, not per request. Entries never outlive the token's `exp` (+ skew).
//!
//! A token enters the cache on its second verification: a small "doorkeeper" table remembers hashes
//! seen once (as Caffeine/TinyLFU do), so a stream of one-shot tokens does not pay cache inserts or
//! evict the tokens that are being reused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::Principal;

pub(crate) type TokenHash = [u8; 32];

/// What a successful verification produced.
pub(crate) struct VerifiedToken {
    /// `exp` + skew, seconds since the epoch.
    pub valid_until: f64,
    /// The key that verified it: the entry is ignored once that key is no longer published.
    pub kid: String,
    pub principal: Principal,
}

struct UntilExpiry;

impl Expiry<TokenHash, Arc<VerifiedToken>> for UntilExpiry {
    fn expire_after_create(&self, _key: &TokenHash, value: &Arc<VerifiedToken>, _now: Instant) -> Option<Duration> {
        let left = value.valid_until - crate::service::now_secs();
        Some(Duration::from_secs_f64(left.clamp(0.0, 86_400.0)))
    }
}

/// Slots in the doorkeeper table (a power of two; 512 KiB).
const DOORKEEPER_SLOTS: usize = 1 << 16;

#[derive(Clone)]
pub(crate) struct TokenCache {
    cache: moka::sync::Cache<TokenHash, Arc<VerifiedToken>>,
    doorkeeper: Arc<[AtomicU64]>,
}

impl TokenCache {
    pub(crate) fn new(capacity: u64) -> Self {
        TokenCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
            doorkeeper: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// True when this hash was seen (verified) before; otherwise remembers it and says no.
    fn seen_before(&self, hash: &TokenHash) -> bool {
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        let tag = u64::from_le_bytes(first) | 1; // never 0, the empty slot
        let slot = &self.doorkeeper[((tag >> 1) as usize) & (DOORKEEPER_SLOTS - 1)];
        if slot.load(Ordering::Relaxed) == tag {
            true
        } else {
            slot.store(tag, Ordering::Relaxed);
            false
        }
    }

    /// SHA-256 over the authenticator id and the token: the token itself is never kept as a key.
    pub(crate) fn hash(authenticator: u64, token: &str) -> TokenHash {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&authenticator.to_be_bytes());
        ctx.update(token.as_bytes());
        let digest = ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Arc<VerifiedToken>> {
        self.cache.get(hash)
    }

    /// Caches `verified` if it is still valid and was seen before; hands back the principal either way
    /// (moved, not copied, when the token is not cached).
    pub(crate) fn insert(&self, hash: TokenHash, verified: VerifiedToken, now: f64) -> Principal {
        if verified.valid_until > now && self.seen_before(&hash) {
            let principal = verified.principal.clone();
            self.cache.insert(hash, Arc::new(verified));
            principal
        } else {
            verified.principal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(valid_until: f64) -> VerifiedToken {
        VerifiedToken {
            valid_until,
            kid: "k".into(),
            principal: Principal::default(),
        }
    }

    #[test]
    fn tokens_are_cached_from_their_second_verification_and_never_when_expired() {
        let cache = TokenCache::new(100);
        let now = crate::service::now_secs();
        let hash = TokenCache::hash(1, "a.b.c");
        assert_ne!(hash, TokenCache::hash(2, "a.b.c"), "the policy is part of the key");
        let _ = cache.insert(hash, verified(now + 60.0), now);
        assert!(cache.get(&hash).is_none(), "a one-shot token is not cached");
        let _ = cache.insert(hash, verified(now + 60.0), now);
        assert!(cache.get(&hash).is_some());

        let stale = TokenCache::hash(1, "d.e.f");
        for _ in 0..2 {
            let _ = cache.insert(stale, verified(now - 1.0), now);
        }
        assert!(cache.get(&stale).is_none());
    }
}
