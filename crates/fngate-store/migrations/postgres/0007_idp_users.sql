-- PostgreSQL twin of ../0007_idp_users.sql.
CREATE TABLE idp_client_certificates (
    id           TEXT COLLATE "C" PRIMARY KEY,
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    sha1         BYTEA NOT NULL,
    sha256       BYTEA NOT NULL,
    certificate  BYTEA NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    UNIQUE (client_id, sha256)
);

ALTER TABLE idp_client_apps ADD COLUMN public_client BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE idp_redirect_uris (
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    uri         TEXT COLLATE "C" NOT NULL,
    platform    TEXT NOT NULL CHECK (platform IN ('web', 'spa', 'public')),
    created_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client_id, uri)
);

ALTER TABLE idp_api_apps ADD COLUMN assignment_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE idp_api_apps ADD COLUMN optional_claims TEXT NOT NULL DEFAULT '[]';
ALTER TABLE idp_api_apps ADD COLUMN group_claims BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE idp_users (
    object_id      TEXT COLLATE "C" PRIMARY KEY,
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    user_name      TEXT NOT NULL,
    upn            TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    given_name     TEXT NOT NULL DEFAULT '',
    surname        TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL,
    created_at     TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, user_name),
    UNIQUE (tenant_id, upn)
);

CREATE TABLE idp_groups (
    object_id   TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE idp_group_members (
    group_id  TEXT COLLATE "C" NOT NULL REFERENCES idp_groups (object_id) ON DELETE CASCADE,
    user_id   TEXT COLLATE "C" NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE idp_user_assignments (
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    api_client_id  TEXT COLLATE "C" NOT NULL REFERENCES idp_api_apps (client_id) ON DELETE CASCADE,
    role           TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, api_client_id, role)
);

CREATE TABLE idp_consents (
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    resource    TEXT COLLATE "C" NOT NULL,
    scopes      TEXT NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, client_id, resource)
);

CREATE TABLE idp_refresh_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    family       TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    spa          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TEXT COLLATE "C" NOT NULL,
    expires_at   TEXT COLLATE "C" NOT NULL,
    redeemed_at  TEXT
);
CREATE INDEX idp_refresh_tokens_family ON idp_refresh_tokens (family);
