//! Persistence: one SQLite file (WAL) in the data directory, migrated at open, or a PostgreSQL
//! database shared by several nodes (`fngate up --database-url postgres://...`).
//!
//! Each domain owns a module (`functions`, `deployments`, `idp`, `oci`) and a migration file per
//! backend; the data plane never reads from here on the request path: components load at start
//! and on change. Every query is written once, with `$N` placeholders (SQLite reads them as
//! positional parameters too), and runs on either pool through [`on_db!`] / [`on_tx!`].

/// Runs `$body` with `$pool` bound to the store's native pool (`&SqlitePool` or `&PgPool`): the
/// same query text and binds, compiled once per backend.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_db!`] inside a transaction: `$conn` is the native `&mut` connection.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// Turns each `async fn name(store: &Store)` into the tests `name::sqlite` and `name::postgres`,
/// each on a fresh store of its own.
#[cfg(test)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let t = $crate::testing::TestStore::sqlite().await;
                    super::$name(&t.store).await;
                    t.finish().await;
                }

                #[tokio::test]
                async fn postgres() {
                    let t = $crate::testing::TestStore::postgres().await;
                    super::$name(&t.store).await;
                    t.finish().await;
                }
            }
        )*
    };
}

pub mod bundles;
pub mod changes;
mod db;
pub mod deployments;
pub mod functions;
pub mod idp;
pub mod oci;
mod private_dir;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use db::{Backend, Db, Tx};
pub use private_dir::{DIR_MODE, FILE_MODE, make_private};

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "fngate.db";
const LOCK_FILE: &str = "fngate.lock";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error(
        "data directory {path} is already in use by another fngate process (lock {lock} is held); stop it first or pass a different --data-dir"
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error(
        "data directory {path} is owned by uid {owner}, not by this user (uid {uid}); it holds fngate's secrets, so it must be yours: chown it or pass another --data-dir"
    )]
    NotOwner { path: PathBuf, owner: u32, uid: u32 },
    #[error("cannot make {path} private to this user: {source}")]
    Private { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate database {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    /// The database URL is not one fngate can use (the text says why; never the password).
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect { target: String, source: sqlx::Error },
    #[error("cannot migrate PostgreSQL database {target}: {source}")]
    MigratePostgres {
        target: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("{entity} not found")]
    NotFound { entity: String },
    #[error("{entity} already exists")]
    Conflict { entity: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict`, anything else to `Db`.
    pub fn from_insert(err: sqlx::Error, entity: impl Into<String>) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { entity: entity.into() },
            _ => StoreError::Db(err),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The migrations of one backend: (version, description, SQL). Append only; never edit a landed
/// one. Both lists carry the same versions (a test checks it), so a schema change is made for
/// both backends in the same commit.
type MigrationFile = (i64, &'static str, &'static str);

const SQLITE_MIGRATIONS: &[MigrationFile] = &[
    (1, "functions", include_str!("../migrations/0001_functions.sql")),
    (2, "deployments", include_str!("../migrations/0002_deployments.sql")),
    (3, "idp", include_str!("../migrations/0003_idp.sql")),
    (6, "oci", include_str!("../migrations/0006_oci.sql")),
    (7, "idp users", include_str!("../migrations/0007_idp_users.sql")),
    (8, "bundles", include_str!("../migrations/0008_bundles.sql")),
    (20, "change feed", include_str!("../migrations/0020_change_feed.sql")),
];

/// PostgreSQL spells a few types differently (BOOLEAN, BIGINT, BYTEA, `COLLATE "C"` so that
/// names sort and page byte-wise as in SQLite); the tables, columns and constraints are the same.
const POSTGRES_MIGRATIONS: &[MigrationFile] = &[
    (
        1,
        "functions",
        include_str!("../migrations/postgres/0001_functions.sql"),
    ),
    (
        2,
        "deployments",
        include_str!("../migrations/postgres/0002_deployments.sql"),
    ),
    (3, "idp", include_str!("../migrations/postgres/0003_idp.sql")),
    (6, "oci", include_str!("../migrations/postgres/0006_oci.sql")),
    (
        7,
        "idp users",
        include_str!("../migrations/postgres/0007_idp_users.sql"),
    ),
    (8, "bundles", include_str!("../migrations/postgres/0008_bundles.sql")),
    (
        20,
        "change feed",
        include_str!("../migrations/postgres/0020_change_feed.sql"),
    ),
];

/// The embedded migrations of one backend, so the binary carries them.
fn migrator(backend: Backend) -> Migrator {
    let files = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    let migrations: Vec<Migration> = files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// An open store. Cloning is cheap (the pool is shared).
#[derive(Clone)]
pub struct Store {
    db: Db,
    data_dir: PathBuf,
}

/// Held for as long as a server uses the data directory; dropping it releases the lock.
pub struct DataDirLock {
    _lock: nix::fcntl::Flock<File>,
    pub path: PathBuf,
}

impl DataDirLock {
    /// Takes the exclusive lock on `data_dir` so a second server cannot corrupt it, after
    /// making the directory private ([`make_private`]).
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        make_private(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|source| StoreError::Lock {
                path: path.clone(),
                source,
            })?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(locked) => Ok(DataDirLock { _lock: locked, path }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(StoreError::Locked {
                path: data_dir.into(),
                lock: path,
            }),
            Err((_, errno)) => Err(StoreError::Lock {
                path,
                source: errno.into(),
            }),
        }
    }
}

/// A PostgreSQL URL checked and parsed, printable without its password.
#[derive(Clone)]
pub struct PostgresUrl {
    options: PgConnectOptions,
    shown: String,
}

impl PostgresUrl {
    /// Parses `postgres://` or `postgresql://` URLs (libpq's query options too, e.g.
    /// `?sslmode=require`); anything else is refused with the reason.
    pub fn parse(url: &str) -> Result<Self> {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(StoreError::BadUrl(format!(
                "not a PostgreSQL URL ({}): it must start with postgres:// or postgresql://, e.g. \
                 postgres://fngate@db.example.com:5432/fngate; leave it unset for the embedded SQLite store",
                match scheme {
                    Some(scheme) => format!("scheme {scheme:?}"),
                    None => "no scheme".to_string(),
                }
            )));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|err| StoreError::BadUrl(format!("not a usable PostgreSQL URL: {err}")))?;
        Ok(Self::from_options(options))
    }

    pub fn from_options(options: PgConnectOptions) -> Self {
        let shown = format!(
            "{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username())
        );
        PostgresUrl { options, shown }
    }

    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }
}

/// `user@host:port/database`: what logs and errors name.
impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", self.shown)
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.into(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        // SQLite gives the -wal and -shm files the database file's mode: create it owner-only.
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|source| StoreError::Private {
                path: path.clone(),
                source,
            })?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives process crashes (kill -9); only power loss can drop the last commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        migrator(Backend::Sqlite)
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path, source })?;
        Ok(Store {
            db: Db::Sqlite(pool),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// Connects to the PostgreSQL database `url` names and applies pending migrations (under
    /// PostgreSQL's advisory lock, so nodes starting together migrate once). `data_dir` still
    /// holds this node's own files (function code, environments, tokens).
    pub async fn open_postgres(data_dir: &Path, url: &PostgresUrl) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.into(),
            source,
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            // A database that does not answer fails the start (and readiness) quickly.
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(url.options().clone())
            .await
            .map_err(|source| StoreError::Connect {
                target: url.to_string(),
                source,
            })?;
        migrator(Backend::Postgres)
            .run(&pool)
            .await
            .map_err(|source| StoreError::MigratePostgres {
                target: url.to_string(),
                source,
            })?;
        Ok(Store {
            db: Db::Postgres(pool),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// SQLite in `data_dir` without a URL, else the PostgreSQL database the URL names.
    pub async fn connect(data_dir: &Path, database_url: Option<&str>) -> Result<Self> {
        match database_url {
            None => Store::open(data_dir).await,
            Some(url) => Store::open_postgres(data_dir, &PostgresUrl::parse(url)?).await,
        }
    }

    /// The database (named `pool` as it was a pool before there were two backends).
    pub fn pool(&self) -> &Db {
        &self.db
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Current UTC time as RFC 3339 with milliseconds, the format stored in every `*_at` column.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A new sortable id (ULID, as Fn uses).
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let Db::Sqlite(pool) = store.pool() else {
            panic!("Store::open is SQLite")
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
        assert_eq!(mode, "wal");
        // The database and SQLite's own files next to it are owner-only.
        sqlx::query("CREATE TABLE probe (x)").execute(pool).await.unwrap();
        for name in [DB_FILE, "fngate.db-wal", "fngate.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(name)).unwrap();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
                FILE_MODE,
                "{name}"
            );
        }
        store.close().await;
        // A second open applies nothing new and keeps the schema.
        let again = Store::open(dir.path()).await.unwrap();
        assert_eq!(applied(&again).await, SQLITE_MIGRATIONS.len() as i64);
    }

    async fn applied(store: &Store) -> i64 {
        on_db!(store.pool(), pool => sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(pool).await)
            .unwrap()
    }

    #[tokio::test]
    async fn postgres_migrates_once_even_when_nodes_start_together() {
        let db = testing::PgTestDb::create().await;
        let url = PostgresUrl::parse(db.url()).unwrap();
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let (a, b) = tokio::join!(
            Store::open_postgres(dirs[0].path(), &url),
            Store::open_postgres(dirs[1].path(), &url)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.backend(), Backend::Postgres);
        assert_eq!(applied(&a).await, POSTGRES_MIGRATIONS.len() as i64);
        a.close().await;
        b.close().await;
        let again = Store::open_postgres(dirs[0].path(), &url).await.unwrap();
        assert_eq!(applied(&again).await, POSTGRES_MIGRATIONS.len() as i64);
        again.close().await;
        db.drop_now().await;
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let versions = |files: &[MigrationFile]| files.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>();
        assert_eq!(
            versions(SQLITE_MIGRATIONS),
            versions(POSTGRES_MIGRATIONS),
            "every schema change needs its PostgreSQL migration (migrations/postgres/) too"
        );
        // Every SQLite migration file in the directory is embedded (one added but not listed
        // would never run).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let on_disk = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
            .count();
        assert_eq!(on_disk, SQLITE_MIGRATIONS.len());
        let on_disk_pg = std::fs::read_dir(dir.join("postgres")).unwrap().count();
        assert_eq!(on_disk_pg, POSTGRES_MIGRATIONS.len());
    }

    #[test]
    fn database_urls_are_checked_and_never_shown_with_their_password() {
        for bad in ["mysql://x@y/z", "sqlite:fngate.db", "localhost:5432", ""] {
            let err = PostgresUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("postgres://"), "{bad}: {err}");
        }
        let err = PostgresUrl::parse("postgres://u@h:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a usable PostgreSQL URL"), "{err}");
        let url = PostgresUrl::parse("postgresql://fngate:s3cret@db.internal:6543/nodes").unwrap();
        assert_eq!(url.to_string(), "fngate@db.internal:6543/nodes");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn an_unreachable_database_names_where_it_looked() {
        // A port nobody listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("postgres://postgres:pw@127.0.0.1:{port}/fngate");
        let err = Store::connect(dir.path(), Some(&url))
            .await
            .err()
            .expect("nothing listens there");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}/fngate")), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }

    #[test]
    fn second_lock_on_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let meta = std::fs::metadata(&first.path).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            FILE_MODE
        );
        let err = DataDirLock::acquire(dir.path()).err().expect("second lock must fail");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).expect("lock is free again after drop");
    }
}
