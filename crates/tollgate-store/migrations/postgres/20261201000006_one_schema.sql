-- One schema for both backends: `signing_keys.added` is written by the insert itself
-- (`MAX(added) + 1`, as on SQLite) instead of by an identity column, so one INSERT serves both.
ALTER TABLE signing_keys ALTER COLUMN added DROP IDENTITY;
