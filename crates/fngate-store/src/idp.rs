//! Stored registrations of the dev identity provider: tenants, API apps, client apps, client
//! secrets (SHA-256 hashes only), app-role grants and RSA signing keys.
//!
//! Plain rows in, plain rows out: the idp crate keeps everything in memory and only comes here
//! at start and when a registration changes.

use serde::Serialize;
use sqlx::FromRow;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ApiAppRow {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub identifier_uri: String,
    /// JSON array of delegated scope names.
    pub scopes: String,
    /// JSON array of app role values.
    pub app_roles: String,
    pub token_version: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClientAppRow {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub object_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_id: String,
    pub description: String,
    pub hint: String,
    pub sha256: Vec<u8>,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoleGrantRow {
    pub client_id: String,
    pub api_client_id: String,
    pub role: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    /// PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// X.509 DER.
    pub certificate: Vec<u8>,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub remove_at: Option<String>,
}

pub async fn list_tenants(store: &Store) -> Result<Vec<TenantRow>> {
    Ok(
        sqlx::query_as("SELECT id, name, is_default, created_at FROM idp_tenants ORDER BY created_at, id")
            .fetch_all(store.pool())
            .await?,
    )
}

pub async fn insert_tenant(store: &Store, row: &TenantRow) -> Result<()> {
    sqlx::query("INSERT INTO idp_tenants (id, name, is_default, created_at) VALUES (?, ?, ?, ?)")
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.is_default)
        .bind(&row.created_at)
        .execute(store.pool())
        .await
        .map_err(|err| StoreError::from_insert(err, format!("tenant {:?}", row.name)))?;
    Ok(())
}

pub async fn list_api_apps(store: &Store) -> Result<Vec<ApiAppRow>> {
    Ok(sqlx::query_as(
        "SELECT client_id, tenant_id, name, identifier_uri, scopes, app_roles, token_version, created_at
         FROM idp_api_apps ORDER BY created_at, client_id",
    )
    .fetch_all(store.pool())
    .await?)
}

pub async fn insert_api_app(store: &Store, row: &ApiAppRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO idp_api_apps (client_id, tenant_id, name, identifier_uri, scopes, app_roles, token_version, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.client_id)
    .bind(&row.tenant_id)
    .bind(&row.name)
    .bind(&row.identifier_uri)
    .bind(&row.scopes)
    .bind(&row.app_roles)
    .bind(row.token_version)
    .bind(&row.created_at)
    .execute(store.pool())
    .await
    .map_err(|err| {
        StoreError::from_insert(
            err,
            format!("API app named {:?} or with identifier URI {:?}", row.name, row.identifier_uri),
        )
    })?;
    Ok(())
}

/// Deletes an API app and (by cascade) the grants on it. Returns false when it did not exist.
pub async fn delete_api_app(store: &Store, client_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM idp_api_apps WHERE client_id = ?")
        .bind(client_id)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn list_client_apps(store: &Store) -> Result<Vec<ClientAppRow>> {
    Ok(sqlx::query_as(
        "SELECT client_id, tenant_id, name, object_id, created_at FROM idp_client_apps ORDER BY created_at, client_id",
    )
    .fetch_all(store.pool())
    .await?)
}

/// Inserts a client app with its first secrets and grants in one transaction.
pub async fn insert_client_app(
    store: &Store,
    row: &ClientAppRow,
    secrets: &[ClientSecretRow],
    grants: &[RoleGrantRow],
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query(
        "INSERT INTO idp_client_apps (client_id, tenant_id, name, object_id, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&row.client_id)
    .bind(&row.tenant_id)
    .bind(&row.name)
    .bind(&row.object_id)
    .bind(&row.created_at)
    .execute(&mut *tx)
    .await
    .map_err(|err| StoreError::from_insert(err, format!("client app {:?}", row.name)))?;
    for secret in secrets {
        insert_secret_in(&mut tx, secret).await?;
    }
    for grant in grants {
        insert_grant_in(&mut tx, grant).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes a client app with its secrets and grants. Returns false when it did not exist.
pub async fn delete_client_app(store: &Store, client_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM idp_client_apps WHERE client_id = ?")
        .bind(client_id)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn list_secrets(store: &Store) -> Result<Vec<ClientSecretRow>> {
    Ok(sqlx::query_as(
        "SELECT id, client_id, description, hint, sha256, created_at, expires_at
         FROM idp_client_secrets ORDER BY created_at, id",
    )
    .fetch_all(store.pool())
    .await?)
}

pub async fn insert_secret(store: &Store, row: &ClientSecretRow) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    insert_secret_in(&mut tx, row).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_secret_in(tx: &mut sqlx::SqliteConnection, row: &ClientSecretRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO idp_client_secrets (id, client_id, description, hint, sha256, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.id)
    .bind(&row.client_id)
    .bind(&row.description)
    .bind(&row.hint)
    .bind(&row.sha256)
    .bind(&row.created_at)
    .bind(&row.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(|err| StoreError::from_insert(err, format!("client secret {}", row.id)))?;
    Ok(())
}

/// Removes one secret of one client. Returns false when there was no such secret.
pub async fn delete_secret(store: &Store, client_id: &str, secret_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM idp_client_secrets WHERE client_id = ? AND id = ?")
        .bind(client_id)
        .bind(secret_id)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn list_grants(store: &Store) -> Result<Vec<RoleGrantRow>> {
    Ok(sqlx::query_as(
        "SELECT client_id, api_client_id, role, created_at FROM idp_role_grants ORDER BY created_at, client_id, role",
    )
    .fetch_all(store.pool())
    .await?)
}

/// Grants app roles (admin consent); grants that already exist are kept as they are.
pub async fn insert_grants(store: &Store, grants: &[RoleGrantRow]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for grant in grants {
        insert_grant_in(&mut tx, grant).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_grant_in(tx: &mut sqlx::SqliteConnection, row: &RoleGrantRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO idp_role_grants (client_id, api_client_id, role, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (client_id, api_client_id, role) DO NOTHING",
    )
    .bind(&row.client_id)
    .bind(&row.api_client_id)
    .bind(&row.role)
    .bind(&row.created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn list_signing_keys(store: &Store) -> Result<Vec<SigningKeyRow>> {
    Ok(sqlx::query_as(
        "SELECT kid, private_key, certificate, created_at, retired_at, remove_at
         FROM idp_signing_keys ORDER BY created_at, kid",
    )
    .fetch_all(store.pool())
    .await?)
}

/// Stores `new` as the signing key and retires every other unretired key: they stay published
/// until `remove_at`.
pub async fn rotate_signing_key(store: &Store, new: &SigningKeyRow, retired_at: &str, remove_at: &str) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE idp_signing_keys SET retired_at = ?, remove_at = ? WHERE retired_at IS NULL")
        .bind(retired_at)
        .bind(remove_at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO idp_signing_keys (kid, private_key, certificate, created_at, retired_at, remove_at)
         VALUES (?, ?, ?, ?, NULL, NULL)",
    )
    .bind(&new.kid)
    .bind(&new.private_key)
    .bind(&new.certificate)
    .bind(&new.created_at)
    .execute(&mut *tx)
    .await
    .map_err(|err| StoreError::from_insert(err, format!("signing key {}", new.kid)))?;
    tx.commit().await?;
    Ok(())
}

/// Deletes retired keys whose overlap period has ended.
pub async fn delete_signing_keys(store: &Store, kids: &[String]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for kid in kids {
        sqlx::query("DELETE FROM idp_signing_keys WHERE kid = ? AND retired_at IS NOT NULL")
            .bind(kid)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, name: &str, is_default: bool) -> TenantRow {
        TenantRow {
            id: id.into(),
            name: name.into(),
            is_default,
            created_at: crate::now_rfc3339(),
        }
    }

    #[tokio::test]
    async fn registrations_round_trip_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        insert_tenant(&store, &tenant("t1", "default", true)).await.unwrap();
        // Only one default tenant, and names are unique.
        let err = insert_tenant(&store, &tenant("t2", "other", true)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        let err = insert_tenant(&store, &tenant("t3", "default", false))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");

        let api = ApiAppRow {
            client_id: "api1".into(),
            tenant_id: "t1".into(),
            name: "orders".into(),
            identifier_uri: "api://orders".into(),
            scopes: "[]".into(),
            app_roles: r#"["Orders.Read"]"#.into(),
            token_version: 2,
            created_at: crate::now_rfc3339(),
        };
        insert_api_app(&store, &api).await.unwrap();
        let client = ClientAppRow {
            client_id: "c1".into(),
            tenant_id: "t1".into(),
            name: "daemon".into(),
            object_id: "o1".into(),
            created_at: crate::now_rfc3339(),
        };
        let secret = ClientSecretRow {
            id: "s1".into(),
            client_id: "c1".into(),
            description: String::new(),
            hint: "abc".into(),
            sha256: vec![1; 32],
            created_at: crate::now_rfc3339(),
            expires_at: crate::now_rfc3339(),
        };
        let grant = RoleGrantRow {
            client_id: "c1".into(),
            api_client_id: "api1".into(),
            role: "Orders.Read".into(),
            created_at: crate::now_rfc3339(),
        };
        insert_client_app(
            &store,
            &client,
            std::slice::from_ref(&secret),
            std::slice::from_ref(&grant),
        )
        .await
        .unwrap();
        insert_grants(&store, std::slice::from_ref(&grant)).await.unwrap();
        assert_eq!(list_api_apps(&store).await.unwrap(), vec![api]);
        assert_eq!(list_client_apps(&store).await.unwrap(), vec![client]);
        assert_eq!(list_secrets(&store).await.unwrap(), vec![secret]);
        assert_eq!(list_grants(&store).await.unwrap(), vec![grant]);

        assert!(delete_api_app(&store, "api1").await.unwrap());
        assert!(
            list_grants(&store).await.unwrap().is_empty(),
            "grants go with the API app"
        );
        assert!(delete_client_app(&store, "c1").await.unwrap());
        assert!(
            list_secrets(&store).await.unwrap().is_empty(),
            "secrets go with the client"
        );
        assert!(!delete_client_app(&store, "c1").await.unwrap());
    }

    #[tokio::test]
    async fn rotation_retires_previous_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let key = |kid: &str| SigningKeyRow {
            kid: kid.into(),
            private_key: vec![1],
            certificate: vec![2],
            created_at: crate::now_rfc3339(),
            retired_at: None,
            remove_at: None,
        };
        rotate_signing_key(&store, &key("k1"), "r", "x").await.unwrap();
        rotate_signing_key(&store, &key("k2"), "r2", "x2").await.unwrap();
        let keys = list_signing_keys(&store).await.unwrap();
        assert_eq!(keys.len(), 2);
        let k1 = keys.iter().find(|k| k.kid == "k1").unwrap();
        assert_eq!(k1.remove_at.as_deref(), Some("x2"));
        assert!(keys.iter().any(|k| k.kid == "k2" && k.retired_at.is_none()));
        delete_signing_keys(&store, &["k1".into(), "k2".into()]).await.unwrap();
        let left: Vec<_> = list_signing_keys(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(left, vec!["k2".to_string()], "the current key is never deleted");
    }
}
