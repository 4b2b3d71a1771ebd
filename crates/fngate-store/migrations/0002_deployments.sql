-- gateway deployments (gateway work): name + path prefix + the user's original specification text.
CREATE TABLE deployments (
    name         TEXT PRIMARY KEY NOT NULL,
    path_prefix  TEXT NOT NULL UNIQUE,
    spec_format  TEXT NOT NULL CHECK (spec_format IN ('json', 'yaml')),
    spec_text    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
