-- OCI REST APIs (fngate-oci): what the OCI views of fngate's objects need beyond the Fn and gateway
-- tables. Applications, functions and deployments stay in fn_apps / fn_fns / deployments; these
-- tables only add the OCI-only fields (compartment, tags, ...) and the OCI-only objects.

-- One row per setting; `tenancy` is the data directory's tenancy OCID.
CREATE TABLE oci_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- API signing keys (public halves only), as `oci setup keys` makes and the console uploads.
CREATE TABLE oci_api_keys (
    user_id         TEXT NOT NULL,            -- user OCID, the middle part of keyId
    fingerprint     TEXT NOT NULL,            -- MD5 of the DER public key, aa:bb:...
    public_key_pem  TEXT NOT NULL,            -- SubjectPublicKeyInfo PEM
    created_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, fingerprint)
);

-- OCI-only fields of objects the Fn API or `fngate gateway` also own: kind `app` / `fn` (id = Fn
-- ULID) or `deployment` (id = deployment name). `fields` is a JSON object of what fngate records
-- and returns but does not act on (freeformTags, definedTags, subnetIds, ...).
CREATE TABLE oci_resources (
    kind            TEXT NOT NULL CHECK (kind IN ('app', 'fn', 'deployment')),
    id              TEXT NOT NULL,
    compartment_id  TEXT NOT NULL,
    display_name    TEXT,
    gateway_id      TEXT,
    fields          TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, id)
);

-- API gateways: every one is served by fngate's one gateway listener.
CREATE TABLE oci_gateways (
    id              TEXT PRIMARY KEY,          -- ULID (lower-case), the OCID's unique part
    compartment_id  TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    endpoint_type   TEXT NOT NULL,
    fields          TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- API Gateway work requests (every change makes one; changes finish before the answer).
CREATE TABLE oci_work_requests (
    id              TEXT PRIMARY KEY,
    operation_type  TEXT NOT NULL,
    status          TEXT NOT NULL,
    compartment_id  TEXT NOT NULL,
    resources       TEXT NOT NULL DEFAULT '[]',
    errors          TEXT NOT NULL DEFAULT '[]',
    logs            TEXT NOT NULL DEFAULT '[]',
    time_accepted   TEXT NOT NULL,
    time_started    TEXT,
    time_finished   TEXT
);

-- `opc-retry-token` answers kept for 24 hours: a retry with the same body gets the same answer.
CREATE TABLE oci_retry_tokens (
    token        TEXT NOT NULL,
    operation    TEXT NOT NULL,                -- method and path the token was used on
    body_sha256  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT NOT NULL,                -- JSON object of the answer's OCI headers
    body         BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (token, operation)
);
