-- Times are milliseconds since the Unix epoch, UTC.
-- Each owner's references to published files, with the name and media type
-- they gave: what `GET /v1/files` lists and `DELETE /v1/files/{sha256}`
-- removes. A file whose last reference goes is deleted once its grace ends.
CREATE TABLE file_refs (
    owner        TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    filename     TEXT,
    content_type TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (owner, sha256)
);
CREATE INDEX file_refs_newest ON file_refs (owner, created_at DESC, sha256 DESC);
CREATE INDEX file_refs_by_hash ON file_refs (sha256);

-- The owners that published the files already there hold them.
INSERT INTO file_refs (owner, sha256, filename, content_type, created_at)
SELECT u.owner, u.sha256, u.filename, u.content_type, f.published_at
FROM uploads u JOIN files f ON f.sha256 = u.sha256
WHERE u.status = 'complete'
ON CONFLICT (owner, sha256) DO NOTHING;

-- Files no reference holds any more, deleted once `due_at` has passed
-- unless a new reference comes first.
CREATE TABLE file_deletions (
    sha256 TEXT PRIMARY KEY,
    due_at INTEGER NOT NULL
);

-- The outbox: every change an app hears of, written in the transaction of
-- the change. `routed` is 1 once its deliveries (one per webhook URL that
-- takes its type) are written.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    routed     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_unrouted ON events (created_at) WHERE routed = 0;

-- One event to one webhook URL: pending until the URL acknowledges it
-- (`delivered`) or its retries run out (`failed`). An instance sending it
-- holds it until `claimed_until`.
CREATE TABLE event_deliveries (
    event_id      TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    target        TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER NOT NULL,
    claimed_until INTEGER,
    claim_token   TEXT,
    last_error    TEXT,
    done_at       INTEGER,
    PRIMARY KEY (event_id, target)
);
CREATE INDEX event_deliveries_due ON event_deliveries (due_at) WHERE state = 'pending';
