//! Persistence: one SQLite file (WAL) in the data directory, migrated at open.
//!
//! Each domain owns a module (`functions`, `deployments`, `idp`, `oci`) and a migration file; the
//! data plane never reads from here on the request path: components load at start and on change.

pub mod bundles;
pub mod deployments;
pub mod functions;
pub mod idp;
pub mod oci;
mod private_dir;

pub use private_dir::{DIR_MODE, FILE_MODE, make_private};

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
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

/// The migrations, embedded so the binary carries them. Append only; never edit a landed one.
fn migrator() -> Migrator {
    let files = [
        (1, "functions", include_str!("../migrations/0001_functions.sql")),
        (2, "deployments", include_str!("../migrations/0002_deployments.sql")),
        (3, "idp", include_str!("../migrations/0003_idp.sql")),
        (6, "oci", include_str!("../migrations/0006_oci.sql")),
        (7, "idp users", include_str!("../migrations/0007_idp_users.sql")),
        (8, "bundles", include_str!("../migrations/0008_bundles.sql")),
    ];
    let migrations: Vec<Migration> = files
        .into_iter()
        .map(|(version, description, sql)| {
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
    pool: SqlitePool,
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

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
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
        migrator()
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path, source })?;
        Ok(Store {
            pool,
            data_dir: data_dir.to_path_buf(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // The database and SQLite's own files next to it are owner-only.
        sqlx::query("CREATE TABLE probe (x)")
            .execute(store.pool())
            .await
            .unwrap();
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
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(again.pool())
            .await
            .unwrap();
        assert_eq!(applied, migrator().iter().count() as i64);
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
