-- PostgreSQL twin of ../0006_oci.sql.
CREATE TABLE oci_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE oci_api_keys (
    user_id         TEXT COLLATE "C" NOT NULL,
    fingerprint     TEXT COLLATE "C" NOT NULL,
    public_key_pem  TEXT NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, fingerprint)
);

CREATE TABLE oci_resources (
    kind            TEXT NOT NULL CHECK (kind IN ('app', 'fn', 'deployment')),
    id              TEXT COLLATE "C" NOT NULL,
    compartment_id  TEXT NOT NULL,
    display_name    TEXT,
    gateway_id      TEXT,
    fields          TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, id)
);

CREATE TABLE oci_gateways (
    id              TEXT COLLATE "C" PRIMARY KEY,
    compartment_id  TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    endpoint_type   TEXT NOT NULL,
    fields          TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL
);

CREATE TABLE oci_work_requests (
    id              TEXT COLLATE "C" PRIMARY KEY,
    operation_type  TEXT NOT NULL,
    status          TEXT NOT NULL,
    compartment_id  TEXT NOT NULL,
    resources       TEXT NOT NULL DEFAULT '[]',
    errors          TEXT NOT NULL DEFAULT '[]',
    logs            TEXT NOT NULL DEFAULT '[]',
    time_accepted   TEXT COLLATE "C" NOT NULL,
    time_started    TEXT,
    time_finished   TEXT
);

CREATE TABLE oci_retry_tokens (
    token        TEXT NOT NULL,
    operation    TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    status       BIGINT NOT NULL,
    headers      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (token, operation)
);
