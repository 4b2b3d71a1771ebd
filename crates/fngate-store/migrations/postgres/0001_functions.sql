-- PostgreSQL twin of ../0001_functions.sql (same tables, columns and constraints). Names use
-- COLLATE "C" so lists sort and page byte-wise, as SQLite's default collation does; integers are
-- BIGINT (Rust i64).
CREATE TABLE fn_apps (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    config      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    syslog_url  TEXT,
    shape       TEXT,
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE fn_fns (
    id           TEXT COLLATE "C" PRIMARY KEY,
    app_id       TEXT COLLATE "C" NOT NULL REFERENCES fn_apps(id) ON DELETE CASCADE,
    name         TEXT COLLATE "C" NOT NULL,
    image        TEXT NOT NULL DEFAULT '',
    memory       BIGINT NOT NULL,
    timeout      BIGINT NOT NULL,
    idle_timeout BIGINT NOT NULL,
    config       TEXT NOT NULL DEFAULT '{}',
    annotations  TEXT NOT NULL DEFAULT '{}',
    shape        TEXT,
    -- How to run the deployed code (JSON, fngate-specific); NULL until `fngate deploy`.
    deployment   TEXT,
    created_at   TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE fn_triggers (
    id          TEXT COLLATE "C" PRIMARY KEY,
    app_id      TEXT COLLATE "C" NOT NULL REFERENCES fn_apps(id) ON DELETE CASCADE,
    fn_id       TEXT COLLATE "C" NOT NULL REFERENCES fn_fns(id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (app_id, fn_id, name),
    UNIQUE (app_id, type, source)
);
CREATE INDEX fn_triggers_fn ON fn_triggers (fn_id);
