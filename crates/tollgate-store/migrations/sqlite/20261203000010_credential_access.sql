-- When and from where a credential may be used: an expiry (NULL: none; from then on the credential
-- and its tokens are refused) and an IP allowlist (CIDRs separated by spaces; empty: any address).
ALTER TABLE credentials ADD COLUMN expires_at BIGINT;
ALTER TABLE credentials ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
