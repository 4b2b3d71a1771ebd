//! Test support (feature `test-util`): a PostgreSQL database of its own per test, created from
//! `FNGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and dropped
//! afterwards, so tests run in parallel and leave nothing behind.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Where tests find PostgreSQL when `FNGATE_TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The server tests create their databases on.
pub fn test_database_url() -> String {
    std::env::var("FNGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_string())
}

/// A fresh, empty database; dropped (with any connections still open to it) when this value is
/// dropped or by [`PgTestDb::drop_now`].
pub struct PgTestDb {
    name: String,
    url: String,
    admin: PgConnectOptions,
    dropped: bool,
}

impl PgTestDb {
    /// Creates `fngate_test_<ulid>` on the test server; panics with what to do when PostgreSQL
    /// is not there (scripts/test.sh starts it).
    pub async fn create() -> PgTestDb {
        let base = test_database_url();
        let admin = PgConnectOptions::from_str(&base)
            .unwrap_or_else(|err| panic!("FNGATE_TEST_DATABASE_URL {base:?} is not a PostgreSQL URL: {err}"));
        let name = format!("fngate_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut conn = admin.connect().await.unwrap_or_else(|err| {
            panic!(
                "cannot reach the test PostgreSQL at {base} ({err}); run scripts/test.sh (it installs and \
                 starts PostgreSQL) or set FNGATE_TEST_DATABASE_URL"
            )
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
        let _ = conn.close().await;
        let url = with_database(&base, &name);
        PgTestDb {
            name,
            url,
            admin,
            dropped: false,
        }
    }

    /// `postgres://…/<this database>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (the usual end of a test).
    pub async fn drop_now(mut self) {
        drop_database(&self.admin, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for PgTestDb {
    // A test that panicked still removes its database, from a thread of its own (no runtime
    // may be running here).
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_database(&admin, &name));
            }
        })
        .join();
    }
}

async fn drop_database(admin: &PgConnectOptions, name: &str) {
    if let Ok(mut conn) = admin.connect().await {
        // FORCE (PostgreSQL 13+) ends the sessions still connected to it.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

/// `base` with its database path replaced by `name`, keeping user, host and query options.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base, None),
    };
    let after_scheme = head.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = head[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(head.len());
    let mut url = format!("{}/{name}", &head[..authority_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// A store for one test of this crate, on either backend, with its directory and database.
#[cfg(test)]
pub(crate) struct TestStore {
    pub store: crate::Store,
    _dir: tempfile::TempDir,
    pg: Option<PgTestDb>,
}

#[cfg(test)]
impl TestStore {
    pub async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).await.unwrap();
        TestStore {
            store,
            _dir: dir,
            pg: None,
        }
    }

    pub async fn postgres() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let pg = PgTestDb::create().await;
        let url = crate::PostgresUrl::parse(pg.url()).unwrap();
        let store = crate::Store::open_postgres(dir.path(), &url).await.unwrap();
        TestStore {
            store,
            _dir: dir,
            pg: Some(pg),
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
