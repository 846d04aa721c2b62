-- Key rotation: a retired key stays published until publish_until.
ALTER TABLE signing_keys ADD COLUMN publish_until INTEGER;

-- RFC 7009 revocations, kept until the token would have expired.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);

CREATE TRIGGER revoked_tokens_ai AFTER INSERT ON revoked_tokens BEGIN
    INSERT INTO change_log(kind, key) VALUES ('revocation', NEW.jti); END;
