-- The identity this database shares with its object store (the store keeps
-- the same in its `ferry-store.json`), so that an instance whose database
-- and store disagree refuses to start instead of taking the store's files
-- for leftovers; and when the store was last listed for leftovers, so that
-- one instance at a time lists it.
CREATE TABLE store_binding (
    only_row  INTEGER PRIMARY KEY CHECK (only_row = 1),
    store_id  TEXT NOT NULL,
    bound_at  TIMESTAMPTZ NOT NULL,
    listed_at TIMESTAMPTZ
);

-- What listings of the store found that no row needs: a chunk folder or a
-- file's object, with when it was first and last found. An orphan is
-- deleted only once it has been one for the quarantine, or on command.
CREATE TABLE orphans (
    object_key TEXT PRIMARY KEY,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);

-- How many new upload sessions each owner started for each hash in the
-- current window, while instant upload asks for proof: each new session
-- shows a new proof challenge, and a caller holding part of a file must
-- not draw challenges until one misses the bytes it lacks.
CREATE TABLE session_starts (
    owner        TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    starts       BIGINT NOT NULL,
    PRIMARY KEY (owner, sha256)
);
