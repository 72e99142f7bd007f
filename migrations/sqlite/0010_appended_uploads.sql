-- Times are milliseconds since the Unix epoch, UTC.
-- Uploads whose hash is learned at the end (tus and the IETF resumable
-- uploads draft): created without a hash, appended to in order, hashed as
-- the bytes arrive. `received` is the offset; `running` the SHA-256 state
-- after it, so that any instance continues; `length` is NULL while the
-- client defers it. `concat` is `none`, `partial` (a piece of a later
-- final upload, never published itself) or `final`. `sha256` is the hash
-- the upload was published under, once complete; `claimed_sha256` the one
-- the client announced, checked at the end.
CREATE TABLE appended_uploads (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    length         INTEGER CHECK (length >= 0),
    received       INTEGER NOT NULL CHECK (received >= 0),
    segments       INTEGER NOT NULL CHECK (segments >= 0),
    running        BLOB NOT NULL,
    metadata       TEXT,
    filename       TEXT,
    content_type   TEXT,
    claimed_sha256 TEXT,
    concat         TEXT NOT NULL CHECK (concat IN ('none', 'partial', 'final')),
    status         TEXT NOT NULL CHECK (status IN ('uploading', 'merging', 'complete', 'failed')),
    sha256         TEXT,
    created_at     INTEGER NOT NULL DEFAULT (unixepoch() * 1000),
    expires_at     INTEGER NOT NULL
);

CREATE INDEX appended_uploads_by_expiry ON appended_uploads (expires_at);
CREATE INDEX appended_uploads_by_owner ON appended_uploads (owner, status);

-- The objects an appended upload's bytes are in, in order: one per append.
CREATE TABLE appended_segments (
    upload_id  TEXT NOT NULL REFERENCES appended_uploads (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    size       INTEGER NOT NULL CHECK (size > 0),
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx)
);
