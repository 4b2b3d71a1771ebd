-- PostgreSQL twin of ../0008_bundles.sql: `data` is BYTEA.
CREATE TABLE fn_bundles (
    digest      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    size_bytes  BIGINT NOT NULL,
    entries     BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);
