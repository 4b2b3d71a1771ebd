-- Function code bundles (remote deploy): the canonical tar.gz of a function directory, keyed by
-- its sha256, uploaded through the admin API. Nodes unpack and prepare environments from here;
-- they never read a client's disk. Rows are immutable; a function's deployment names its digest.
-- `data` is BLOB in SQLite; the PostgreSQL migration of the same table uses BYTEA.
CREATE TABLE fn_bundles (
    digest      TEXT PRIMARY KEY NOT NULL,   -- "sha256:<64 hex>"
    size_bytes  INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
