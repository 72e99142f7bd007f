-- Upload sessions, their staged chunks, merge leases and published files.

CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    chunk_size   BIGINT NOT NULL CHECK (chunk_size > 0),
    chunk_count  BIGINT NOT NULL CHECK (chunk_count >= 0),
    filename     TEXT,
    content_type TEXT,
    status       TEXT NOT NULL CHECK (status IN ('uploading', 'merging', 'complete', 'failed')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (owner, sha256)
);

CREATE INDEX uploads_by_expiry ON uploads (expires_at);
CREATE INDEX uploads_merging ON uploads (sha256) WHERE status = 'merging';

CREATE TABLE chunks (
    upload_id  TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx        BIGINT NOT NULL CHECK (idx >= 0),
    size       BIGINT NOT NULL CHECK (size >= 0),
    sha256     TEXT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx)
);

CREATE TABLE merges (
    sha256      TEXT PRIMARY KEY,
    upload_id   TEXT NOT NULL,
    token       TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);

CREATE TABLE files (
    sha256       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL CHECK (size >= 0),
    content_type TEXT,
    object_key   TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL
);
