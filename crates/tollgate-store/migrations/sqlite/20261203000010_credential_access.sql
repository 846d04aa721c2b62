-- When and from where a credential may be used: an expiry (NULL: none; from then on the credential
-- and its tokens are refused) and an IP allowlist (CIDRs separated by spaces; empty: any address).
-- `expiry_audited`: the audit log already says this expiry passed (written once, by one node).
ALTER TABLE credentials ADD COLUMN expires_at BIGINT;
ALTER TABLE credentials ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN expiry_audited INTEGER NOT NULL DEFAULT 0;
CREATE INDEX credentials_expiry ON credentials(expires_at) WHERE expires_at IS NOT NULL;

-- Every node must hear of a new expiry or allowlist: the change feed follows these columns too
-- (not last_used_at, nor expiry_audited).
DROP TRIGGER credentials_au;
CREATE TRIGGER credentials_au
    AFTER UPDATE OF company_id, label, scopes, expires_at, allowed_ips ON credentials BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
