-- The file's running SHA-256 before and after each chunk, computed from the
-- chunk's stored copy, so that completing an upload need not read its chunks
-- again; the index finds where a session's links stop.
ALTER TABLE chunks ADD COLUMN hash_before BYTEA;
ALTER TABLE chunks ADD COLUMN hash_after BYTEA;
CREATE INDEX chunks_unlinked ON chunks (upload_id, idx) WHERE hash_after IS NULL;
-- A merged file is stored as its chunks' objects, in order: the length of
-- every part but the last. NULL for a file stored as one object.
ALTER TABLE files ADD COLUMN part_size BIGINT CHECK (part_size > 0);
