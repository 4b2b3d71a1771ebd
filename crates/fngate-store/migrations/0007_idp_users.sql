-- Dev identity provider, part 2 (issue #16): certificate credentials, client platforms and
-- redirect URIs, API settings (assignment required, optional and group claims), users, groups,
-- user assignments, consent, refresh tokens. Ids are lower-case GUIDs, times RFC 3339 UTC.

-- Key credentials: certificates whose private key signs the client's assertions (RFC 7523).
-- Only the certificate (public) is kept; the private key never reaches fngate.
CREATE TABLE idp_client_certificates (
    id           TEXT PRIMARY KEY,           -- key id (GUID)
    client_id    TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    description  TEXT NOT NULL DEFAULT '',
    sha1         BLOB NOT NULL,              -- x5t
    sha256       BLOB NOT NULL,              -- x5t#S256
    certificate  BLOB NOT NULL,              -- X.509 DER
    created_at   TEXT NOT NULL,
    UNIQUE (client_id, sha256)
);

-- allowPublicClient: the client may use public flows (device code) without a credential.
ALTER TABLE idp_client_apps ADD COLUMN public_client INTEGER NOT NULL DEFAULT 0;

-- Redirect URIs per platform, as Entra's Authentication blade: web (confidential, server side),
-- spa (browser, PKCE, CORS on the token endpoint, 24 h rotating refresh tokens), public
-- (mobile/desktop, http://localhost any port).
CREATE TABLE idp_redirect_uris (
    client_id   TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    uri         TEXT NOT NULL,
    platform    TEXT NOT NULL CHECK (platform IN ('web', 'spa', 'public')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (client_id, uri)
);

-- appRoleAssignmentRequired on the API's service principal.
ALTER TABLE idp_api_apps ADD COLUMN assignment_required INTEGER NOT NULL DEFAULT 0;
-- optionalClaims.accessToken: JSON array of claim names (email, upn, given_name, family_name,
-- ipaddr, idtyp, ...).
ALTER TABLE idp_api_apps ADD COLUMN optional_claims TEXT NOT NULL DEFAULT '[]';
-- groupMembershipClaims: 1 = SecurityGroup (group object ids in `groups`).
ALTER TABLE idp_api_apps ADD COLUMN group_claims INTEGER NOT NULL DEFAULT 0;

CREATE TABLE idp_users (
    object_id      TEXT PRIMARY KEY,         -- `oid`
    tenant_id      TEXT NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    user_name      TEXT NOT NULL,            -- sign-in name (alice); the UPN also signs in
    upn            TEXT NOT NULL,            -- userPrincipalName, `preferred_username` / `upn`
    display_name   TEXT NOT NULL,            -- `name`
    given_name     TEXT NOT NULL DEFAULT '',
    surname        TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL,            -- argon2id, PHC string; the password is never stored
    created_at     TEXT NOT NULL,
    UNIQUE (tenant_id, user_name),
    UNIQUE (tenant_id, upn)
);

CREATE TABLE idp_groups (
    object_id   TEXT PRIMARY KEY,            -- what `groups` lists
    tenant_id   TEXT NOT NULL REFERENCES idp_tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE idp_group_members (
    group_id  TEXT NOT NULL REFERENCES idp_groups (object_id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- A user assigned to an API app, with an app role (`roles`) or '' for default access.
CREATE TABLE idp_user_assignments (
    user_id        TEXT NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    api_client_id  TEXT NOT NULL REFERENCES idp_api_apps (client_id) ON DELETE CASCADE,
    role           TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, api_client_id, role)
);

-- Delegated consent a user gave a client: per resource (an API app's client id, or 'openid'
-- for the OIDC scopes), the scopes consented (JSON array).
CREATE TABLE idp_consents (
    user_id     TEXT NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    resource    TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, client_id, resource)
);

-- Refresh tokens, by the SHA-256 of their value (the value itself is never stored).
CREATE TABLE idp_refresh_tokens (
    id           TEXT PRIMARY KEY,           -- hex SHA-256 of the token
    family       TEXT NOT NULL,              -- the sign-in the chain started from
    user_id      TEXT NOT NULL REFERENCES idp_users (object_id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES idp_client_apps (client_id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL,              -- space-separated scopes granted at sign-in
    auth_time    INTEGER NOT NULL,           -- Unix time of the sign-in
    spa          INTEGER NOT NULL DEFAULT 0, -- single use (rotated), lifetime fixed at sign-in
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    redeemed_at  TEXT                        -- set when a single-use token was rotated
);
CREATE INDEX idp_refresh_tokens_family ON idp_refresh_tokens (family);
