-- The order in which signing keys were added, so that rotations racing each other (processes
-- starting at once on an empty database) converge on the key added last: see `retire_signing_keys`.
-- PostgreSQL has had this column since its migration 4; SQLite ordered by rowid until now. From here
-- on both backends carry the same tables and columns, and their migrations are numbered in step
-- (4 and 5 were made in the other order on the two backends).
ALTER TABLE signing_keys ADD COLUMN added INTEGER;
UPDATE signing_keys SET added = rowid;
