-- Lets the sweep tell a published object from a leftover one.
CREATE INDEX files_by_object_key ON files (object_key);
