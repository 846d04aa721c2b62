-- RFC 8707 resource indicators: the resources (audience URIs, separated by spaces) beyond the
-- server's default audience that a company's credentials may ask tokens for, and the ones a
-- credential is limited to (NULL: all of its company's).
ALTER TABLE companies ADD COLUMN resources TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN resources TEXT;

-- Every node must hear of a credential's new resources: the change feed follows the column.
DROP TRIGGER credentials_au;
CREATE TRIGGER credentials_au
    AFTER UPDATE OF company_id, label, scopes, expires_at, allowed_ips, resources ON credentials BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
