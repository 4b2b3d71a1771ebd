//! Stored OCI-only data (fngate-oci): the tenancy, API signing keys, the OCI-only fields of apps,
//! functions and deployments, API gateways, work requests and retry-token answers.
//!
//! Apps, functions and deployments themselves live in their own tables (`functions`,
//! `deployments`): the OCI REST APIs are a second view of the same objects.

use sqlx::FromRow;

use crate::{Db, Result, StoreError, now_rfc3339};

const TENANCY_KEY: &str = "tenancy";

/// The data directory's tenancy OCID, created on first use from `make`.
pub async fn tenancy(pool: &Db, make: impl FnOnce() -> String) -> Result<String> {
    if let Some(found) = on_db!(pool, pool => sqlx::query_scalar::<_, String>("SELECT value FROM oci_settings WHERE key = $1")
        .bind(TENANCY_KEY)
        .fetch_optional(pool).await)?
    {
        return Ok(found);
    }
    // Two first callers at once: the insert that loses is ignored and both read the winner.
    on_db!(pool, pool => sqlx::query("INSERT INTO oci_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(TENANCY_KEY)
        .bind(make())
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(
        on_db!(pool, pool => sqlx::query_scalar::<_, String>("SELECT value FROM oci_settings WHERE key = $1")
            .bind(TENANCY_KEY)
            .fetch_one(pool).await)?,
    )
}

// === API keys ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow, serde::Serialize)]
pub struct ApiKeyRow {
    pub user_id: String,
    pub fingerprint: String,
    pub public_key_pem: String,
    pub created_at: String,
}

/// Registers a key; the same user and fingerprint twice is a `Conflict`.
pub async fn insert_api_key(pool: &Db, user_id: &str, fingerprint: &str, pem: &str) -> Result<ApiKeyRow> {
    let row = ApiKeyRow {
        user_id: user_id.into(),
        fingerprint: fingerprint.into(),
        public_key_pem: pem.into(),
        created_at: now_rfc3339(),
    };
    on_db!(pool, pool => sqlx::query("INSERT INTO oci_api_keys (user_id, fingerprint, public_key_pem, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&row.user_id)
        .bind(&row.fingerprint)
        .bind(&row.public_key_pem)
        .bind(&row.created_at)
        .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(|err| StoreError::from_insert(err, format!("API key {fingerprint} of user {user_id}")))?;
    Ok(row)
}

pub async fn list_api_keys(pool: &Db) -> Result<Vec<ApiKeyRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_api_keys ORDER BY user_id, created_at")
            .fetch_all(pool).await)?,
    )
}

pub async fn delete_api_key(pool: &Db, user_id: &str, fingerprint: &str) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("DELETE FROM oci_api_keys WHERE user_id = $1 AND fingerprint = $2")
        .bind(user_id)
        .bind(fingerprint)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound {
            entity: format!("API key {fingerprint} of user {user_id}"),
        });
    }
    Ok(())
}

// === OCI-only fields of shared objects ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ResourceRow {
    /// `app`, `fn` or `deployment`.
    pub kind: String,
    pub id: String,
    pub compartment_id: String,
    pub display_name: Option<String>,
    pub gateway_id: Option<String>,
    /// JSON object of recorded fields.
    pub fields: String,
}

pub async fn put_resource(pool: &Db, row: &ResourceRow) -> Result<()> {
    on_db!(pool, pool => sqlx::query(
        "INSERT INTO oci_resources (kind, id, compartment_id, display_name, gateway_id, fields) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (kind, id) DO UPDATE SET compartment_id = excluded.compartment_id, \
         display_name = excluded.display_name, gateway_id = excluded.gateway_id, fields = excluded.fields",
    )
    .bind(&row.kind)
    .bind(&row.id)
    .bind(&row.compartment_id)
    .bind(&row.display_name)
    .bind(&row.gateway_id)
    .bind(&row.fields)
    .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get_resource(pool: &Db, kind: &str, id: &str) -> Result<Option<ResourceRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_resources WHERE kind = $1 AND id = $2")
        .bind(kind)
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

pub async fn list_resources(pool: &Db, kind: &str) -> Result<Vec<ResourceRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_resources WHERE kind = $1")
        .bind(kind)
        .fetch_all(pool).await)?,
    )
}

pub async fn delete_resource(pool: &Db, kind: &str, id: &str) -> Result<()> {
    on_db!(pool, pool => sqlx::query("DELETE FROM oci_resources WHERE kind = $1 AND id = $2")
        .bind(kind)
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// === gateways ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct GatewayRow {
    pub id: String,
    pub compartment_id: String,
    pub display_name: String,
    pub endpoint_type: String,
    pub fields: String,
    pub created_at: String,
    pub updated_at: String,
}

pub async fn insert_gateway(pool: &Db, row: &GatewayRow) -> Result<()> {
    on_db!(pool, pool => sqlx::query(
        "INSERT INTO oci_gateways (id, compartment_id, display_name, endpoint_type, fields, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.compartment_id)
    .bind(&row.display_name)
    .bind(&row.endpoint_type)
    .bind(&row.fields)
    .bind(&row.created_at)
    .bind(&row.updated_at)
    .execute(pool).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, "gateway"))?;
    Ok(())
}

pub async fn update_gateway(pool: &Db, row: &GatewayRow) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("UPDATE oci_gateways SET display_name = $1, fields = $2, updated_at = $3 WHERE id = $4")
        .bind(&row.display_name)
        .bind(&row.fields)
        .bind(&row.updated_at)
        .bind(&row.id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "gateway")
}

pub async fn get_gateway(pool: &Db, id: &str) -> Result<Option<GatewayRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_gateways WHERE id = $1")
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

pub async fn list_gateways(pool: &Db) -> Result<Vec<GatewayRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_gateways ORDER BY id")
        .fetch_all(pool).await)?,
    )
}

pub async fn delete_gateway(pool: &Db, id: &str) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("DELETE FROM oci_gateways WHERE id = $1")
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "gateway")
}

// === work requests ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct WorkRequestRow {
    pub id: String,
    pub operation_type: String,
    pub status: String,
    pub compartment_id: String,
    /// JSON arrays.
    pub resources: String,
    pub errors: String,
    pub logs: String,
    pub time_accepted: String,
    pub time_started: Option<String>,
    pub time_finished: Option<String>,
}

pub async fn insert_work_request(pool: &Db, row: &WorkRequestRow) -> Result<()> {
    on_db!(pool, pool => sqlx::query(
        "INSERT INTO oci_work_requests (id, operation_type, status, compartment_id, resources, errors, logs, \
         time_accepted, time_started, time_finished) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.id)
    .bind(&row.operation_type)
    .bind(&row.status)
    .bind(&row.compartment_id)
    .bind(&row.resources)
    .bind(&row.errors)
    .bind(&row.logs)
    .bind(&row.time_accepted)
    .bind(&row.time_started)
    .bind(&row.time_finished)
    .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get_work_request(pool: &Db, id: &str) -> Result<Option<WorkRequestRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_work_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

pub async fn list_work_requests(pool: &Db) -> Result<Vec<WorkRequestRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_work_requests ORDER BY time_accepted, id")
            .fetch_all(pool).await)?,
    )
}

// === retry tokens ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RetryRow {
    pub token: String,
    pub operation: String,
    pub body_sha256: String,
    pub status: i64,
    pub headers: String,
    pub body: Vec<u8>,
    pub created_at: String,
}

/// The kept answer for `token` on `operation`, if younger than `since` (RFC 3339).
pub async fn get_retry(pool: &Db, token: &str, operation: &str, since: &str) -> Result<Option<RetryRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM oci_retry_tokens WHERE token = $1 AND operation = $2 AND created_at >= $3")
            .bind(token)
            .bind(operation)
            .bind(since)
            .fetch_optional(pool).await)?,
    )
}

/// Keeps an answer (replacing an expired one) and drops answers older than `expired_before`.
pub async fn put_retry(pool: &Db, row: &RetryRow, expired_before: &str) -> Result<()> {
    on_db!(pool, pool => sqlx::query("DELETE FROM oci_retry_tokens WHERE created_at < $1")
        .bind(expired_before)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    on_db!(pool, pool => sqlx::query(
        "INSERT INTO oci_retry_tokens (token, operation, body_sha256, status, headers, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (token, operation) DO UPDATE SET \
         body_sha256 = excluded.body_sha256, status = excluded.status, headers = excluded.headers, \
         body = excluded.body, created_at = excluded.created_at",
    )
    .bind(&row.token)
    .bind(&row.operation)
    .bind(&row.body_sha256)
    .bind(row.status)
    .bind(&row.headers)
    .bind(&row.body)
    .bind(&row.created_at)
    .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

fn not_found_if_zero(rows: u64, entity: &str) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::NotFound { entity: entity.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tenancy_is_made_once_and_keys_are_unique_per_user(store: &crate::Store) {
        let first = tenancy(store.pool(), || "ocid1.tenancy.fngate..a".into())
            .await
            .unwrap();
        let again = tenancy(store.pool(), || "ocid1.tenancy.fngate..b".into())
            .await
            .unwrap();
        assert_eq!(first, again);

        insert_api_key(store.pool(), "u1", "aa:bb", "PEM").await.unwrap();
        let dup = insert_api_key(store.pool(), "u1", "aa:bb", "PEM").await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict { .. }), "{dup}");
        insert_api_key(store.pool(), "u2", "aa:bb", "PEM").await.unwrap();
        assert_eq!(list_api_keys(store.pool()).await.unwrap().len(), 2);
        delete_api_key(store.pool(), "u1", "aa:bb").await.unwrap();
        assert!(matches!(
            delete_api_key(store.pool(), "u1", "aa:bb").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    async fn retry_answers_expire(store: &crate::Store) {
        let row = RetryRow {
            token: "t".into(),
            operation: "POST /x".into(),
            body_sha256: "h".into(),
            status: 200,
            headers: "{}".into(),
            body: b"{}".to_vec(),
            created_at: "2026-01-02T00:00:00Z".into(),
        };
        put_retry(store.pool(), &row, "2026-01-01T00:00:00Z").await.unwrap();
        assert!(
            get_retry(store.pool(), "t", "POST /x", "2026-01-01T00:00:00Z")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            get_retry(store.pool(), "t", "POST /x", "2026-01-03T00:00:00Z")
                .await
                .unwrap()
                .is_none(),
            "older than the window"
        );
        assert!(
            get_retry(store.pool(), "t", "POST /y", "2026-01-01T00:00:00Z")
                .await
                .unwrap()
                .is_none(),
            "a token is per operation"
        );
    }

    on_both_backends!(tenancy_is_made_once_and_keys_are_unique_per_user, retry_answers_expire);
}
