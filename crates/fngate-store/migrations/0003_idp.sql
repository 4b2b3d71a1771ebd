-- Dev identity provider: tenants, API apps, client apps, secrets (hashes only), role grants, signing keys.
-- All ids are lower-case GUIDs (as Entra), times are RFC 3339 UTC strings.

CREATE TABLE idp_tenants (
    id          TEXT PRIMARY KEY,            -- tenant id (GUID), the `tid` claim
    name        TEXT NOT NULL UNIQUE,        -- also accepted in URLs in place of the GUID
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX idp_tenants_one_default ON idp_tenants (is_default) WHERE is_default = 1;

CREATE TABLE idp_api_apps (
    client_id       TEXT PRIMARY KEY,        -- application (client) id, v2 `aud`
    tenant_id       TEXT NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    identifier_uri  TEXT NOT NULL,           -- api://…, v1 `aud` when requested by it
    scopes          TEXT NOT NULL,           -- JSON array of delegated scope names
    app_roles       TEXT NOT NULL,           -- JSON array of app role values
    token_version   INTEGER NOT NULL DEFAULT 1 CHECK (token_version IN (1, 2)),
    created_at      TEXT NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, identifier_uri)
);

CREATE TABLE idp_client_apps (
    client_id   TEXT PRIMARY KEY,            -- `appid` / `azp`
    tenant_id   TEXT NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    object_id   TEXT NOT NULL UNIQUE,        -- service principal object id, `oid` and `sub`
    created_at  TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE idp_client_secrets (
    id           TEXT PRIMARY KEY,           -- secret id (GUID), never the value
    client_id    TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    hint         TEXT NOT NULL,              -- first characters of the value, as Entra shows
    sha256       BLOB NOT NULL,              -- SHA-256 of the value; the value itself is never stored
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX idp_client_secrets_client ON idp_client_secrets (client_id);

CREATE TABLE idp_role_grants (
    client_id      TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    api_client_id  TEXT NOT NULL REFERENCES idp_api_apps (client_id) ON DELETE CASCADE,
    role           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (client_id, api_client_id, role)
);

CREATE TABLE idp_signing_keys (
    kid          TEXT PRIMARY KEY,           -- base64url SHA-1 of the certificate (= x5t)
    private_key  BLOB NOT NULL,              -- PKCS#8 DER (RSA 2048)
    certificate  BLOB NOT NULL,              -- self-signed X.509 DER (x5c)
    created_at   TEXT NOT NULL,
    retired_at   TEXT,                       -- set when a newer key took over signing
    remove_at    TEXT                        -- unpublished from the JWKS after this time
);
