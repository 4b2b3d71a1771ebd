-- PostgreSQL twin of ../0002_deployments.sql.
CREATE TABLE deployments (
    name         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    path_prefix  TEXT COLLATE "C" NOT NULL UNIQUE,
    spec_format  TEXT NOT NULL CHECK (spec_format IN ('json', 'yaml')),
    spec_text    TEXT NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL
);
