-- The order in which signing keys were added, so that rotations racing each other (nodes starting at
-- once on an empty database) converge on the key added last: see `retire_signing_keys`.
ALTER TABLE signing_keys ADD COLUMN added BIGINT GENERATED ALWAYS AS IDENTITY;
