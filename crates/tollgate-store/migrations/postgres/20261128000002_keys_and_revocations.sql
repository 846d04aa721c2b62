-- Key rotation: a retired key stays published until publish_until.
ALTER TABLE signing_keys ADD COLUMN publish_until BIGINT;

-- RFC 7009 revocations, kept until the token would have expired.
CREATE TABLE revoked_tokens (
    jti        TEXT COLLATE "C" PRIMARY KEY,
    client_id  TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);

CREATE TRIGGER revoked_tokens_ai AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('revocation', 'jti');
