-- The chunks a session has received, one bit per index (bit i%8 of byte
-- i/8), so that its progress is one row to read.
ALTER TABLE uploads ADD COLUMN received BYTEA;
