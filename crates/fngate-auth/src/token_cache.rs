//! Verified tokens, keyed by a hash of (policy, token): a client reusing its token pays one RSA
//! verification, not one per request. Entries never outlive the token's `exp` (+ skew).

use std::sync::Arc;
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

#[derive(Clone)]
pub(crate) struct TokenCache {
    cache: moka::sync::Cache<TokenHash, Arc<VerifiedToken>>,
}

impl TokenCache {
    pub(crate) fn new(capacity: u64) -> Self {
        TokenCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
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

    pub(crate) fn insert(&self, hash: TokenHash, verified: VerifiedToken, now: f64) {
        if verified.valid_until > now {
            self.cache.insert(hash, Arc::new(verified));
        }
    }
}
