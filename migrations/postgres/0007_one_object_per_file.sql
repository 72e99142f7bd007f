-- Objects the database records for deletion: the parts of a file moved to
-- its one object, a one-request upload's object copied to its file's key.
-- The store deletes only what a row names, never what no row needs; a
-- row goes once its object is deleted.
CREATE TABLE deletions (
    object_key  TEXT PRIMARY KEY,
    recorded_at TIMESTAMPTZ NOT NULL
);

-- Moves of files published in parts to their one object, each claimed by
-- one instance until its claim lapses, so that instances share the work.
CREATE TABLE file_moves (
    sha256        TEXT PRIMARY KEY,
    claimed_until TIMESTAMPTZ NOT NULL
);

CREATE INDEX files_in_parts ON files (published_at) WHERE part_size IS NOT NULL;
