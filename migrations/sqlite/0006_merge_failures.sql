-- Why a merge failed its session: `hash-mismatch` (the chunks' bytes hash
-- to another key), `store-refused` (the object store refused the merge) or
-- `store-unavailable` (the store kept failing it past the retry bound).
-- NULL for sessions that did not fail, and for those failed before it was
-- recorded, which failed on a hash mismatch.
ALTER TABLE uploads ADD COLUMN failure TEXT;
