-- A leaked secret's credential is found by the secret's stored form (tollgate credential revoke-leaked).
CREATE INDEX IF NOT EXISTS credential_secrets_hash ON credential_secrets(hash);
