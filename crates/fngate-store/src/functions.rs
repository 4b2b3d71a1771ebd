//! Stored Fn apps, functions and triggers (functions work).
//!
//! Plain rows: `config`/`annotations` are JSON objects kept as text, `deployment` is the JSON the
//! functions runtime writes at deploy time. Lists are ordered by name and paged with a
//! `name > cursor` filter, as Fn does. The runtime loads everything at start and after each
//! write; nothing here runs on the invoke path.

use sqlx::FromRow;

use crate::{Db, Result, StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub config: String,
    pub annotations: String,
    pub syslog_url: Option<String>,
    pub shape: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FnRow {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub image: String,
    pub memory: i64,
    pub timeout: i64,
    pub idle_timeout: i64,
    pub config: String,
    pub annotations: String,
    pub shape: Option<String>,
    pub deployment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TriggerRow {
    pub id: String,
    pub app_id: String,
    pub fn_id: String,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub source: String,
    pub annotations: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One page of a list: rows with `name > after`, optionally only `name == name`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub name: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

/// Everything, for the runtime's in-memory snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub apps: Vec<AppRow>,
    pub fns: Vec<FnRow>,
    pub triggers: Vec<TriggerRow>,
}

pub async fn load_all(pool: &Db) -> Result<Snapshot> {
    Ok(Snapshot {
        apps: on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_apps ORDER BY name")
            .fetch_all(pool).await)?,
        fns: on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_fns ORDER BY name")
            .fetch_all(pool).await)?,
        triggers: on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_triggers ORDER BY name")
            .fetch_all(pool).await)?,
    })
}

// === apps ===

pub async fn list_apps(pool: &Db, page: &Page) -> Result<Vec<AppRow>> {
    Ok(on_db!(pool, pool => sqlx::query_as(
        "SELECT * FROM fn_apps WHERE ($1 IS NULL OR name = $1) AND ($2 IS NULL OR name > $2) ORDER BY name LIMIT $3",
    )
    .bind(&page.name)
    .bind(&page.after)
    .bind(page.limit)
    .fetch_all(pool).await)?)
}

pub async fn get_app(pool: &Db, id: &str) -> Result<Option<AppRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_apps WHERE id = $1")
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

pub async fn get_app_by_name(pool: &Db, name: &str) -> Result<Option<AppRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_apps WHERE name = $1")
        .bind(name)
        .fetch_optional(pool).await)?,
    )
}

pub async fn insert_app(tx: &mut Tx<'_>, app: &AppRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO fn_apps (id, name, config, annotations, syslog_url, shape, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&app.id)
    .bind(&app.name)
    .bind(&app.config)
    .bind(&app.annotations)
    .bind(&app.syslog_url)
    .bind(&app.shape)
    .bind(&app.created_at)
    .bind(&app.updated_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, "app"))?;
    Ok(())
}

/// Writes every mutable column of an existing app (the caller merged the change).
pub async fn update_app(pool: &Db, app: &AppRow) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query(
        "UPDATE fn_apps SET config = $1, annotations = $2, syslog_url = $3, shape = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(&app.config)
    .bind(&app.annotations)
    .bind(&app.syslog_url)
    .bind(&app.shape)
    .bind(&app.updated_at)
    .bind(&app.id)
    .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "app")
}

/// Deletes an app with its functions and triggers.
pub async fn delete_app(pool: &Db, id: &str) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("DELETE FROM fn_apps WHERE id = $1")
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "app")
}

// === fns ===

pub async fn list_fns(pool: &Db, app_id: &str, page: &Page) -> Result<Vec<FnRow>> {
    Ok(on_db!(pool, pool => sqlx::query_as(
        "SELECT * FROM fn_fns WHERE app_id = $1 AND ($2 IS NULL OR name = $2) AND ($3 IS NULL OR name > $3) \
         ORDER BY name LIMIT $4",
    )
    .bind(app_id)
    .bind(&page.name)
    .bind(&page.after)
    .bind(page.limit)
    .fetch_all(pool).await)?)
}

pub async fn get_fn(pool: &Db, id: &str) -> Result<Option<FnRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_fns WHERE id = $1")
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

pub async fn get_fn_by_name(tx: &mut Tx<'_>, app_id: &str, name: &str) -> Result<Option<FnRow>> {
    Ok(
        on_tx!(tx, conn => sqlx::query_as("SELECT * FROM fn_fns WHERE app_id = $1 AND name = $2")
        .bind(app_id)
        .bind(name)
        .fetch_optional(&mut *conn).await)?,
    )
}

pub async fn insert_fn(tx: &mut Tx<'_>, f: &FnRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO fn_fns (id, app_id, name, image, memory, timeout, idle_timeout, config, annotations, shape, \
         deployment, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&f.id)
    .bind(&f.app_id)
    .bind(&f.name)
    .bind(&f.image)
    .bind(f.memory)
    .bind(f.timeout)
    .bind(f.idle_timeout)
    .bind(&f.config)
    .bind(&f.annotations)
    .bind(&f.shape)
    .bind(&f.deployment)
    .bind(&f.created_at)
    .bind(&f.updated_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(|err| StoreError::from_insert(err, "fn"))?;
    Ok(())
}

/// Writes every mutable column of an existing fn (the caller merged the change).
pub async fn update_fn(tx: &mut Tx<'_>, f: &FnRow) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE fn_fns SET image = $1, memory = $2, timeout = $3, idle_timeout = $4, config = $5, annotations = $6, \
         shape = $7, deployment = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(&f.image)
    .bind(f.memory)
    .bind(f.timeout)
    .bind(f.idle_timeout)
    .bind(&f.config)
    .bind(&f.annotations)
    .bind(&f.shape)
    .bind(&f.deployment)
    .bind(&f.updated_at)
    .bind(&f.id)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "fn")
}

/// Deletes a fn with its triggers.
pub async fn delete_fn(pool: &Db, id: &str) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("DELETE FROM fn_fns WHERE id = $1")
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "fn")
}

// === triggers ===

pub async fn list_triggers(pool: &Db, app_id: &str, fn_id: Option<&str>, page: &Page) -> Result<Vec<TriggerRow>> {
    Ok(on_db!(pool, pool => sqlx::query_as(
        "SELECT * FROM fn_triggers WHERE app_id = $1 AND ($2 IS NULL OR fn_id = $2) AND ($3 IS NULL OR name = $3) \
         AND ($4 IS NULL OR name > $4) ORDER BY name LIMIT $5",
    )
    .bind(app_id)
    .bind(fn_id)
    .bind(&page.name)
    .bind(&page.after)
    .bind(page.limit)
    .fetch_all(pool).await)?)
}

pub async fn get_trigger(pool: &Db, id: &str) -> Result<Option<TriggerRow>> {
    Ok(
        on_db!(pool, pool => sqlx::query_as("SELECT * FROM fn_triggers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool).await)?,
    )
}

/// Inserts a trigger; a clash on `(app, type, source)` is `Conflict { entity: "trigger source" }`,
/// a clash on `(app, fn, name)` is `Conflict { entity: "trigger name" }`.
pub async fn insert_trigger(tx: &mut Tx<'_>, t: &TriggerRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO fn_triggers (id, app_id, fn_id, name, type, source, annotations, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&t.id)
    .bind(&t.app_id)
    .bind(&t.fn_id)
    .bind(&t.name)
    .bind(&t.kind)
    .bind(&t.source)
    .bind(&t.annotations)
    .bind(&t.created_at)
    .bind(&t.updated_at)
    .execute(&mut *conn).await.map(|r| r.rows_affected()))
    .map_err(trigger_conflict)?;
    Ok(())
}

pub async fn update_trigger(pool: &Db, t: &TriggerRow) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("UPDATE fn_triggers SET source = $1, annotations = $2, updated_at = $3 WHERE id = $4")
        .bind(&t.source)
        .bind(&t.annotations)
        .bind(&t.updated_at)
        .bind(&t.id)
        .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(trigger_conflict)?;
    not_found_if_zero(done, "trigger")
}

/// Updates a trigger's source and annotations inside a transaction (deploy).
pub async fn update_trigger_in(tx: &mut Tx<'_>, t: &TriggerRow) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("UPDATE fn_triggers SET source = $1, annotations = $2, updated_at = $3 WHERE id = $4")
        .bind(&t.source)
        .bind(&t.annotations)
        .bind(&t.updated_at)
        .bind(&t.id)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))
        .map_err(trigger_conflict)?;
    Ok(())
}

pub async fn delete_trigger(pool: &Db, id: &str) -> Result<()> {
    let done = on_db!(pool, pool => sqlx::query("DELETE FROM fn_triggers WHERE id = $1")
        .bind(id)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    not_found_if_zero(done, "trigger")
}

/// Removes every trigger of a fn (deploy replaces them with the ones in func.yaml).
pub async fn delete_fn_triggers(tx: &mut Tx<'_>, fn_id: &str) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM fn_triggers WHERE fn_id = $1")
        .bind(fn_id)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

fn trigger_conflict(err: sqlx::Error) -> StoreError {
    let entity = match &err {
        sqlx::Error::Database(db) if db.message().contains("source") => "trigger source",
        _ => "trigger name",
    };
    StoreError::from_insert(err, entity)
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

    fn app(id: &str, name: &str) -> AppRow {
        AppRow {
            id: id.into(),
            name: name.into(),
            config: "{}".into(),
            annotations: "{}".into(),
            syslog_url: None,
            shape: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    async fn apps_page_by_name_and_cascade_on_delete(store: &crate::Store) {
        let mut tx = store.pool().begin().await.unwrap();
        for (id, name) in [("A1", "b"), ("A2", "a"), ("A3", "c")] {
            insert_app(&mut tx, &app(id, name)).await.unwrap();
        }
        tx.commit().await.unwrap();
        // A failed statement ends a PostgreSQL transaction: each clash gets its own.
        let mut tx = store.pool().begin().await.unwrap();
        let dup = insert_app(&mut tx, &app("A4", "a")).await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict { .. }), "{dup}");
        drop(tx);
        let mut tx = store.pool().begin().await.unwrap();
        let f = FnRow {
            id: "F1".into(),
            app_id: "A2".into(),
            name: "hello".into(),
            image: String::new(),
            memory: 128,
            timeout: 30,
            idle_timeout: 30,
            config: "{}".into(),
            annotations: "{}".into(),
            shape: None,
            deployment: None,
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        insert_fn(&mut tx, &f).await.unwrap();
        let t = TriggerRow {
            id: "T1".into(),
            app_id: "A2".into(),
            fn_id: "F1".into(),
            name: "hello".into(),
            kind: "http".into(),
            source: "/hello".into(),
            annotations: "{}".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        insert_trigger(&mut tx, &t).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.pool().begin().await.unwrap();
        let clash = TriggerRow {
            id: "T2".into(),
            name: "other".into(),
            ..t.clone()
        };
        match insert_trigger(&mut tx, &clash).await.unwrap_err() {
            StoreError::Conflict { entity } => assert_eq!(entity, "trigger source"),
            other => panic!("unexpected {other}"),
        }
        drop(tx);
        let mut tx = store.pool().begin().await.unwrap();
        let renamed = TriggerRow {
            id: "T3".into(),
            source: "/other".into(),
            ..t.clone()
        };
        match insert_trigger(&mut tx, &renamed).await.unwrap_err() {
            StoreError::Conflict { entity } => assert_eq!(entity, "trigger name"),
            other => panic!("unexpected {other}"),
        }
        drop(tx);
        // Names page byte-wise on both backends ("B" < "a").
        let mut tx = store.pool().begin().await.unwrap();
        insert_app(&mut tx, &app("A5", "B")).await.unwrap();
        tx.commit().await.unwrap();
        let all = list_apps(
            store.pool(),
            &Page {
                limit: 10,
                ..Page::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            all.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["B", "a", "b", "c"]
        );
        delete_app(store.pool(), "A5").await.unwrap();

        let first = list_apps(
            store.pool(),
            &Page {
                limit: 2,
                ..Page::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(first.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let rest = list_apps(
            store.pool(),
            &Page {
                limit: 2,
                after: Some("b".into()),
                name: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(rest.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["c"]);

        delete_app(store.pool(), "A2").await.unwrap();
        assert!(get_fn(store.pool(), "F1").await.unwrap().is_none());
        assert!(get_trigger(store.pool(), "T1").await.unwrap().is_none());
        assert!(matches!(
            delete_app(store.pool(), "A2").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    on_both_backends!(apps_page_by_name_and_cascade_on_delete);
}
