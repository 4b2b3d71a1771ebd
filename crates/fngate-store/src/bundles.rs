//! Function code bundles: canonical tar.gz archives keyed by `sha256:<hex>` of their bytes.
//! Content-addressed, so a second upload of the same code stores nothing new. Queries use `$N`
//! placeholders so the same SQL runs on SQLite and PostgreSQL.

use crate::{Result, Store, now_rfc3339};

/// A stored bundle without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct BundleInfo {
    pub digest: String,
    pub size_bytes: i64,
    pub entries: i64,
    pub created_at: String,
}

impl Store {
    /// Stores a bundle unless one with this digest is there already; true when it was new.
    pub async fn put_bundle(&self, digest: &str, entries: i64, data: &[u8]) -> Result<bool> {
        let done = on_db!(self.pool(), pool => sqlx::query(
            "INSERT INTO fn_bundles (digest, size_bytes, entries, data, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(data.len() as i64)
        .bind(entries)
        .bind(data)
        .bind(now_rfc3339())
        .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The bytes of a stored bundle.
    pub async fn get_bundle(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            on_db!(self.pool(), pool => sqlx::query_scalar("SELECT data FROM fn_bundles WHERE digest = $1")
            .bind(digest)
            .fetch_optional(pool).await)?,
        )
    }

    /// A stored bundle's size and entry count.
    pub async fn bundle_info(&self, digest: &str) -> Result<Option<BundleInfo>> {
        Ok(
            on_db!(self.pool(), pool => sqlx::query_as("SELECT digest, size_bytes, entries, created_at FROM fn_bundles WHERE digest = $1")
                .bind(digest)
                .fetch_optional(pool).await)?,
        )
    }
}

#[cfg(test)]
mod tests {
    async fn bundles_are_content_addressed(store: &crate::Store) {
        assert!(store.put_bundle("sha256:ab", 2, b"bytes").await.unwrap());
        assert!(!store.put_bundle("sha256:ab", 2, b"bytes").await.unwrap());
        assert_eq!(
            store.get_bundle("sha256:ab").await.unwrap().as_deref(),
            Some(&b"bytes"[..])
        );
        let info = store.bundle_info("sha256:ab").await.unwrap().unwrap();
        assert_eq!((info.size_bytes, info.entries), (5, 2));
        assert!(store.get_bundle("sha256:cd").await.unwrap().is_none());
    }

    on_both_backends!(bundles_are_content_addressed);
}
