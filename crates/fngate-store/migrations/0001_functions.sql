-- Fn apps, functions and triggers (functions work). Config and annotations are JSON objects.
CREATE TABLE fn_apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    config      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    syslog_url  TEXT,
    shape       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE fn_fns (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL REFERENCES fn_apps(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    image        TEXT NOT NULL DEFAULT '',
    memory       INTEGER NOT NULL,
    timeout      INTEGER NOT NULL,
    idle_timeout INTEGER NOT NULL,
    config       TEXT NOT NULL DEFAULT '{}',
    annotations  TEXT NOT NULL DEFAULT '{}',
    shape        TEXT,
    -- How to run the deployed code (JSON, fngate-specific); NULL until `fngate deploy`.
    deployment   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE fn_triggers (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES fn_apps(id) ON DELETE CASCADE,
    fn_id       TEXT NOT NULL REFERENCES fn_fns(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (app_id, fn_id, name),
    UNIQUE (app_id, type, source)
);
CREATE INDEX fn_triggers_fn ON fn_triggers (fn_id);
