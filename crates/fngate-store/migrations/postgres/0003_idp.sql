-- PostgreSQL twin of ../0003_idp.sql: BOOLEAN for flags, BYTEA for bytes, BIGINT for integers.
-- Times are RFC 3339 UTC strings in both backends (COLLATE "C": they sort as they read).

CREATE TABLE idp_tenants (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX idp_tenants_one_default ON idp_tenants (is_default) WHERE is_default;

CREATE TABLE idp_api_apps (
    client_id       TEXT COLLATE "C" PRIMARY KEY,
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name            TEXT COLLATE "C" NOT NULL,
    identifier_uri  TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    app_roles       TEXT NOT NULL,
    token_version   BIGINT NOT NULL DEFAULT 1 CHECK (token_version IN (1, 2)),
    created_at      TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, identifier_uri)
);

CREATE TABLE idp_client_apps (
    client_id   TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    object_id   TEXT NOT NULL UNIQUE,
    created_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE idp_client_secrets (
    id           TEXT COLLATE "C" PRIMARY KEY,
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    hint         TEXT NOT NULL,
    sha256       BYTEA NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    expires_at   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX idp_client_secrets_client ON idp_client_secrets (client_id);

CREATE TABLE idp_role_grants (
    client_id      TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    api_client_id  TEXT COLLATE "C" NOT NULL REFERENCES idp_api_apps (client_id) ON DELETE CASCADE,
    role           TEXT COLLATE "C" NOT NULL,
    created_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client_id, api_client_id, role)
);

CREATE TABLE idp_signing_keys (
    kid          TEXT COLLATE "C" PRIMARY KEY,
    private_key  BYTEA NOT NULL,
    certificate  BYTEA NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    retired_at   TEXT COLLATE "C",
    remove_at    TEXT COLLATE "C"
);
