//! Stored registrations of the dev identity provider: tenants, API apps, client apps, client
//! secrets (SHA-256 hashes only), certificates, redirect URIs, app-role grants, RSA signing
//! keys; users (argon2 password hashes only), groups, assignments, consents and refresh tokens
//! (SHA-256 hashes only).
//!
//! Plain rows in, plain rows out: the idp crate keeps everything in memory and only comes here
//! at start and when a registration changes.

use serde::Serialize;
use sqlx::FromRow;

use crate::{Result, Store, StoreError, Tx};

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
    pub assignment_required: bool,
    /// JSON array of optional access-token claim names.
    pub optional_claims: String,
    /// `groups` in tokens for this API (groupMembershipClaims SecurityGroup).
    pub group_claims: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClientAppRow {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub object_id: String,
    pub created_at: String,
    /// allowPublicClient (device code without a credential).
    pub public_client: bool,
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
        on_db!(store.pool(), pool => sqlx::query_as("SELECT id, name, is_default, created_at FROM idp_tenants ORDER BY created_at, id")
            .fetch_all(pool).await)?,
    )
}

pub async fn insert_tenant(store: &Store, row: &TenantRow) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query("INSERT INTO idp_tenants (id, name, is_default, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.is_default)
        .bind(&row.created_at)
        .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(|err| StoreError::from_insert(err, format!("tenant {:?}", row.name)))?;
    Ok(())
}

pub async fn list_api_apps(store: &Store) -> Result<Vec<ApiAppRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT client_id, tenant_id, name, identifier_uri, scopes, app_roles, token_version, created_at,
                assignment_required, optional_claims, group_claims
         FROM idp_api_apps ORDER BY created_at, client_id",
    )
    .fetch_all(pool).await)?)
}

pub async fn insert_api_app(store: &Store, row: &ApiAppRow) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query(
        "INSERT INTO idp_api_apps (client_id, tenant_id, name, identifier_uri, scopes, app_roles, token_version, created_at,
                                   assignment_required, optional_claims, group_claims)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&row.client_id)
    .bind(&row.tenant_id)
    .bind(&row.name)
    .bind(&row.identifier_uri)
    .bind(&row.scopes)
    .bind(&row.app_roles)
    .bind(row.token_version)
    .bind(&row.created_at)
    .bind(row.assignment_required)
    .bind(&row.optional_claims)
    .bind(row.group_claims)
    .execute(pool).await.map(|r| r.rows_affected()))
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
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_api_apps WHERE client_id = $1")
        .bind(client_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn list_client_apps(store: &Store) -> Result<Vec<ClientAppRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT client_id, tenant_id, name, object_id, created_at, public_client
         FROM idp_client_apps ORDER BY created_at, client_id",
    )
    .fetch_all(pool).await)?)
}

/// What a client app starts with, inserted in one transaction with it.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials<'a> {
    pub secrets: &'a [ClientSecretRow],
    pub certificates: &'a [ClientCertificateRow],
    pub grants: &'a [RoleGrantRow],
    pub redirect_uris: &'a [RedirectUriRow],
}

/// Inserts a client app with its first secrets, certificates, grants and redirect URIs in one
/// transaction.
pub async fn insert_client_app(store: &Store, row: &ClientAppRow, with: ClientCredentials<'_>) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO idp_client_apps (client_id, tenant_id, name, object_id, created_at, public_client)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.client_id)
    .bind(&row.tenant_id)
    .bind(&row.name)
    .bind(&row.object_id)
    .bind(&row.created_at)
    .bind(row.public_client)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, format!("client app {:?}", row.name)))?;
    for secret in with.secrets {
        insert_secret_in(&mut tx, secret).await?;
    }
    for certificate in with.certificates {
        insert_certificate_in(&mut tx, certificate).await?;
    }
    for grant in with.grants {
        insert_grant_in(&mut tx, grant).await?;
    }
    for uri in with.redirect_uris {
        insert_redirect_uri_in(&mut tx, uri).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes a client app with its secrets and grants. Returns false when it did not exist.
pub async fn delete_client_app(store: &Store, client_id: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_client_apps WHERE client_id = $1")
        .bind(client_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn list_secrets(store: &Store) -> Result<Vec<ClientSecretRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT id, client_id, description, hint, sha256, created_at, expires_at
         FROM idp_client_secrets ORDER BY created_at, id",
    )
    .fetch_all(pool).await)?)
}

pub async fn insert_secret(store: &Store, row: &ClientSecretRow) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    insert_secret_in(&mut tx, row).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_secret_in(tx: &mut Tx<'_>, row: &ClientSecretRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO idp_client_secrets (id, client_id, description, hint, sha256, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.client_id)
    .bind(&row.description)
    .bind(&row.hint)
    .bind(&row.sha256)
    .bind(&row.created_at)
    .bind(&row.expires_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, format!("client secret {}", row.id)))?;
    Ok(())
}

/// Removes one secret of one client. Returns false when there was no such secret.
pub async fn delete_secret(store: &Store, client_id: &str, secret_id: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_client_secrets WHERE client_id = $1 AND id = $2")
        .bind(client_id)
        .bind(secret_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn list_grants(store: &Store) -> Result<Vec<RoleGrantRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT client_id, api_client_id, role, created_at FROM idp_role_grants ORDER BY created_at, client_id, role",
    )
    .fetch_all(pool).await)?)
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

async fn insert_grant_in(tx: &mut Tx<'_>, row: &RoleGrantRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO idp_role_grants (client_id, api_client_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id, api_client_id, role) DO NOTHING",
    )
    .bind(&row.client_id)
    .bind(&row.api_client_id)
    .bind(&row.role)
    .bind(&row.created_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn list_signing_keys(store: &Store) -> Result<Vec<SigningKeyRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT kid, private_key, certificate, created_at, retired_at, remove_at
         FROM idp_signing_keys ORDER BY created_at, kid",
    )
    .fetch_all(pool).await)?)
}

/// Stores `new` as the signing key and retires every other unretired key: they stay published
/// until `remove_at`.
pub async fn rotate_signing_key(store: &Store, new: &SigningKeyRow, retired_at: &str, remove_at: &str) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    on_tx!(&mut tx, conn => sqlx::query("UPDATE idp_signing_keys SET retired_at = $1, remove_at = $2 WHERE retired_at IS NULL")
        .bind(retired_at)
        .bind(remove_at)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO idp_signing_keys (kid, private_key, certificate, created_at, retired_at, remove_at)
         VALUES ($1, $2, $3, $4, NULL, NULL)",
    )
    .bind(&new.kid)
    .bind(&new.private_key)
    .bind(&new.certificate)
    .bind(&new.created_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, format!("signing key {}", new.kid)))?;
    tx.commit().await?;
    Ok(())
}

/// Deletes retired keys whose overlap period has ended.
pub async fn delete_signing_keys(store: &Store, kids: &[String]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for kid in kids {
        on_tx!(&mut tx, conn => sqlx::query("DELETE FROM idp_signing_keys WHERE kid = $1 AND retired_at IS NOT NULL")
            .bind(kid)
            .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(())
}

// === certificates, redirect URIs, API settings ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClientCertificateRow {
    pub id: String,
    pub client_id: String,
    pub description: String,
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    /// X.509 DER.
    pub certificate: Vec<u8>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RedirectUriRow {
    pub client_id: String,
    pub uri: String,
    /// `web`, `spa` or `public`.
    pub platform: String,
    pub created_at: String,
}

pub async fn list_certificates(store: &Store) -> Result<Vec<ClientCertificateRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT id, client_id, description, sha1, sha256, certificate, created_at
         FROM idp_client_certificates ORDER BY created_at, id",
    )
    .fetch_all(pool).await)?)
}

pub async fn insert_certificate(store: &Store, row: &ClientCertificateRow) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    insert_certificate_in(&mut tx, row).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_certificate_in(tx: &mut Tx<'_>, row: &ClientCertificateRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO idp_client_certificates (id, client_id, description, sha1, sha256, certificate, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.client_id)
    .bind(&row.description)
    .bind(&row.sha1)
    .bind(&row.sha256)
    .bind(&row.certificate)
    .bind(&row.created_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, format!("this certificate on client {}", row.client_id)))?;
    Ok(())
}

/// Removes one certificate of one client. Returns false when there was no such certificate.
pub async fn delete_certificate(store: &Store, client_id: &str, id: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_client_certificates WHERE client_id = $1 AND id = $2")
        .bind(client_id)
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn list_redirect_uris(store: &Store) -> Result<Vec<RedirectUriRow>> {
    Ok(
        on_db!(store.pool(), pool => sqlx::query_as("SELECT client_id, uri, platform, created_at FROM idp_redirect_uris ORDER BY created_at, uri")
            .fetch_all(pool).await)?,
    )
}

/// Adds redirect URIs; one already registered keeps its platform unless given again.
pub async fn insert_redirect_uris(store: &Store, rows: &[RedirectUriRow]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for row in rows {
        insert_redirect_uri_in(&mut tx, row).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_redirect_uri_in(tx: &mut Tx<'_>, row: &RedirectUriRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO idp_redirect_uris (client_id, uri, platform, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id, uri) DO UPDATE SET platform = excluded.platform",
    )
    .bind(&row.client_id)
    .bind(&row.uri)
    .bind(&row.platform)
    .bind(&row.created_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_redirect_uri(store: &Store, client_id: &str, uri: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_redirect_uris WHERE client_id = $1 AND uri = $2")
        .bind(client_id)
        .bind(uri)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn set_public_client(store: &Store, client_id: &str, public_client: bool) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query("UPDATE idp_client_apps SET public_client = $1 WHERE client_id = $2")
        .bind(public_client)
        .bind(client_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Changes an API app's settings (`assignment_required`, `optional_claims`, `group_claims`).
pub async fn update_api_settings(store: &Store, row: &ApiAppRow) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query(
        "UPDATE idp_api_apps SET assignment_required = $1, optional_claims = $2, group_claims = $3 WHERE client_id = $4",
    )
    .bind(row.assignment_required)
    .bind(&row.optional_claims)
    .bind(row.group_claims)
    .bind(&row.client_id)
    .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// === users, groups, assignments ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserRow {
    pub object_id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub upn: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct GroupRow {
    pub object_id: String,
    pub tenant_id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct GroupMemberRow {
    pub group_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserAssignmentRow {
    pub user_id: String,
    pub api_client_id: String,
    /// An app role, or '' for default access.
    pub role: String,
    pub created_at: String,
}

pub async fn list_users(store: &Store) -> Result<Vec<UserRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT object_id, tenant_id, user_name, upn, display_name, given_name, surname, email, password_hash, created_at
         FROM idp_users ORDER BY created_at, object_id",
    )
    .fetch_all(pool).await)?)
}

/// Inserts a user with the groups to create (those not yet there) and join, and assignments.
pub async fn insert_user(
    store: &Store,
    row: &UserRow,
    new_groups: &[GroupRow],
    memberships: &[GroupMemberRow],
    assignments: &[UserAssignmentRow],
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO idp_users (object_id, tenant_id, user_name, upn, display_name, given_name, surname, email,
                                password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.object_id)
    .bind(&row.tenant_id)
    .bind(&row.user_name)
    .bind(&row.upn)
    .bind(&row.display_name)
    .bind(&row.given_name)
    .bind(&row.surname)
    .bind(&row.email)
    .bind(&row.password_hash)
    .bind(&row.created_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, format!("user {:?} (or UPN {:?})", row.user_name, row.upn)))?;
    insert_memberships_in(&mut tx, new_groups, memberships, assignments).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds groups (created when missing), memberships and assignments to existing users.
pub async fn insert_memberships(
    store: &Store,
    new_groups: &[GroupRow],
    memberships: &[GroupMemberRow],
    assignments: &[UserAssignmentRow],
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    insert_memberships_in(&mut tx, new_groups, memberships, assignments).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_memberships_in(
    tx: &mut Tx<'_>,
    new_groups: &[GroupRow],
    memberships: &[GroupMemberRow],
    assignments: &[UserAssignmentRow],
) -> Result<()> {
    for group in new_groups {
        on_tx!(tx, conn => sqlx::query("INSERT INTO idp_groups (object_id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&group.object_id)
            .bind(&group.tenant_id)
            .bind(&group.name)
            .bind(&group.created_at)
            .execute(&mut *conn).await.map(|r| r.rows_affected()))
            .map_err(|err| StoreError::from_insert(err, format!("group {:?}", group.name)))?;
    }
    for member in memberships {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO idp_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(&member.group_id)
        .bind(&member.user_id)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    }
    for assignment in assignments {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO idp_user_assignments (user_id, api_client_id, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, api_client_id, role) DO NOTHING",
        )
        .bind(&assignment.user_id)
        .bind(&assignment.api_client_id)
        .bind(&assignment.role)
        .bind(&assignment.created_at)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn set_user_password(store: &Store, object_id: &str, password_hash: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("UPDATE idp_users SET password_hash = $1 WHERE object_id = $2")
        .bind(password_hash)
        .bind(object_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Deletes a user with their memberships, assignments, consents and refresh tokens.
pub async fn delete_user(store: &Store, object_id: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_users WHERE object_id = $1")
        .bind(object_id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

pub async fn list_groups(store: &Store) -> Result<Vec<GroupRow>> {
    Ok(
        on_db!(store.pool(), pool => sqlx::query_as("SELECT object_id, tenant_id, name, created_at FROM idp_groups ORDER BY created_at, name")
            .fetch_all(pool).await)?,
    )
}

pub async fn list_group_members(store: &Store) -> Result<Vec<GroupMemberRow>> {
    Ok(
        on_db!(store.pool(), pool => sqlx::query_as("SELECT group_id, user_id FROM idp_group_members ORDER BY group_id, user_id")
            .fetch_all(pool).await)?,
    )
}

pub async fn list_user_assignments(store: &Store) -> Result<Vec<UserAssignmentRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT user_id, api_client_id, role, created_at FROM idp_user_assignments ORDER BY created_at, role",
    )
    .fetch_all(pool).await)?)
}

// === consent and refresh tokens (written by the sign-in flows) ===

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ConsentRow {
    pub user_id: String,
    pub client_id: String,
    /// An API app's client id, or `openid` for the OIDC scopes.
    pub resource: String,
    /// JSON array of scope names.
    pub scopes: String,
    pub updated_at: String,
}

pub async fn list_consents(store: &Store) -> Result<Vec<ConsentRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT user_id, client_id, resource, scopes, updated_at FROM idp_consents ORDER BY updated_at, resource",
    )
    .fetch_all(pool).await)?)
}

/// Records consent, replacing the scopes consented before for the same resource.
pub async fn upsert_consents(store: &Store, rows: &[ConsentRow]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for row in rows {
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO idp_consents (user_id, client_id, resource, scopes, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, client_id, resource) DO UPDATE SET scopes = excluded.scopes,
                 updated_at = excluded.updated_at",
        )
        .bind(&row.user_id)
        .bind(&row.client_id)
        .bind(&row.resource)
        .bind(&row.scopes)
        .bind(&row.updated_at)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RefreshTokenRow {
    /// Hex SHA-256 of the token.
    pub id: String,
    pub family: String,
    pub user_id: String,
    pub client_id: String,
    pub scopes: String,
    pub auth_time: i64,
    pub spa: bool,
    pub created_at: String,
    pub expires_at: String,
    pub redeemed_at: Option<String>,
}

pub async fn insert_refresh_token(store: &Store, row: &RefreshTokenRow) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query(
        "INSERT INTO idp_refresh_tokens (id, family, user_id, client_id, scopes, auth_time, spa, created_at, expires_at,
                                         redeemed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(&row.id)
    .bind(&row.family)
    .bind(&row.user_id)
    .bind(&row.client_id)
    .bind(&row.scopes)
    .bind(row.auth_time)
    .bind(row.spa)
    .bind(&row.created_at)
    .bind(&row.expires_at)
    .execute(pool).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, "refresh token"))?;
    Ok(())
}

pub async fn find_refresh_token(store: &Store, id: &str) -> Result<Option<RefreshTokenRow>> {
    Ok(on_db!(store.pool(), pool => sqlx::query_as(
        "SELECT id, family, user_id, client_id, scopes, auth_time, spa, created_at, expires_at, redeemed_at
         FROM idp_refresh_tokens WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool).await)?)
}

/// Marks a single-use token redeemed; false when it already was (a replay).
pub async fn redeem_refresh_token(store: &Store, id: &str, at: &str) -> Result<bool> {
    let done = on_db!(store.pool(), pool => sqlx::query("UPDATE idp_refresh_tokens SET redeemed_at = $1 WHERE id = $2 AND redeemed_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Revokes every token of a sign-in (a rotated token came back: it leaked).
pub async fn revoke_refresh_family(store: &Store, family: &str) -> Result<()> {
    on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_refresh_tokens WHERE family = $1")
        .bind(family)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Drops expired refresh tokens.
pub async fn delete_expired_refresh_tokens(store: &Store, now: &str) -> Result<u64> {
    let done = on_db!(store.pool(), pool => sqlx::query("DELETE FROM idp_refresh_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done)
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

    async fn registrations_round_trip_and_cascade(store: &crate::Store) {
        insert_tenant(store, &tenant("t1", "default", true)).await.unwrap();
        // Only one default tenant, and names are unique.
        let err = insert_tenant(store, &tenant("t2", "other", true)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        let err = insert_tenant(store, &tenant("t3", "default", false)).await.unwrap_err();
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
            assignment_required: false,
            optional_claims: "[]".into(),
            group_claims: false,
        };
        insert_api_app(store, &api).await.unwrap();
        let client = ClientAppRow {
            client_id: "c1".into(),
            tenant_id: "t1".into(),
            name: "daemon".into(),
            object_id: "o1".into(),
            created_at: crate::now_rfc3339(),
            public_client: false,
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
            store,
            &client,
            ClientCredentials {
                secrets: std::slice::from_ref(&secret),
                grants: std::slice::from_ref(&grant),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        insert_grants(store, std::slice::from_ref(&grant)).await.unwrap();
        assert_eq!(list_api_apps(store).await.unwrap(), vec![api]);
        assert_eq!(list_client_apps(store).await.unwrap(), vec![client]);
        assert_eq!(list_secrets(store).await.unwrap(), vec![secret]);
        assert_eq!(list_grants(store).await.unwrap(), vec![grant]);

        assert!(delete_api_app(store, "api1").await.unwrap());
        assert!(
            list_grants(store).await.unwrap().is_empty(),
            "grants go with the API app"
        );
        assert!(delete_client_app(store, "c1").await.unwrap());
        assert!(
            list_secrets(store).await.unwrap().is_empty(),
            "secrets go with the client"
        );
        assert!(!delete_client_app(store, "c1").await.unwrap());
    }

    async fn rotation_retires_previous_keys(store: &crate::Store) {
        let key = |kid: &str| SigningKeyRow {
            kid: kid.into(),
            private_key: vec![1],
            certificate: vec![2],
            created_at: crate::now_rfc3339(),
            retired_at: None,
            remove_at: None,
        };
        rotate_signing_key(store, &key("k1"), "r", "x").await.unwrap();
        rotate_signing_key(store, &key("k2"), "r2", "x2").await.unwrap();
        let keys = list_signing_keys(store).await.unwrap();
        assert_eq!(keys.len(), 2);
        let k1 = keys.iter().find(|k| k.kid == "k1").unwrap();
        assert_eq!(k1.remove_at.as_deref(), Some("x2"));
        assert!(keys.iter().any(|k| k.kid == "k2" && k.retired_at.is_none()));
        delete_signing_keys(store, &["k1".into(), "k2".into()]).await.unwrap();
        let left: Vec<_> = list_signing_keys(store)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(left, vec!["k2".to_string()], "the current key is never deleted");
    }

    on_both_backends!(registrations_round_trip_and_cascade, rotation_retires_previous_keys);
}
