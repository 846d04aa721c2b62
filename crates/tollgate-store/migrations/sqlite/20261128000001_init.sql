-- tollgate schema (SQLite). Times are Unix seconds.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE companies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,            -- space-delimited scope ceiling
    max_credentials INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE credentials (
    client_id    TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    scopes       TEXT NOT NULL,               -- space-delimited
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX credentials_company ON credentials(company_id, created_at);

-- Keyed hashes (HMAC-SHA-256) of secrets; two rows per credential during a rotation's grace period.
CREATE TABLE credential_secrets (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES credentials(client_id) ON DELETE CASCADE,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX credential_secrets_client ON credential_secrets(client_id);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    alg           TEXT NOT NULL,
    private_pkcs8 BLOB NOT NULL,
    public        BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    retired_at    INTEGER
);

-- The change feed: every write to the tables the hot path caches appends (kind, key).
CREATE TABLE change_log (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TRIGGER companies_ai AFTER INSERT ON companies BEGIN
    INSERT INTO change_log(kind, key) VALUES ('company', NEW.id); END;
CREATE TRIGGER companies_au AFTER UPDATE ON companies BEGIN
    INSERT INTO change_log(kind, key) VALUES ('company', NEW.id); END;
CREATE TRIGGER companies_ad AFTER DELETE ON companies BEGIN
    INSERT INTO change_log(kind, key) VALUES ('company', OLD.id); END;

CREATE TRIGGER credentials_ai AFTER INSERT ON credentials BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
CREATE TRIGGER credentials_au AFTER UPDATE OF company_id, label, scopes ON credentials BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
CREATE TRIGGER credentials_ad AFTER DELETE ON credentials BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', OLD.client_id); END;

CREATE TRIGGER credential_secrets_ai AFTER INSERT ON credential_secrets BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
CREATE TRIGGER credential_secrets_au AFTER UPDATE ON credential_secrets BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', NEW.client_id); END;
CREATE TRIGGER credential_secrets_ad AFTER DELETE ON credential_secrets BEGIN
    INSERT INTO change_log(kind, key) VALUES ('credential', OLD.client_id); END;

CREATE TRIGGER signing_keys_ai AFTER INSERT ON signing_keys BEGIN
    INSERT INTO change_log(kind, key) VALUES ('key', NEW.kid); END;
CREATE TRIGGER signing_keys_au AFTER UPDATE ON signing_keys BEGIN
    INSERT INTO change_log(kind, key) VALUES ('key', NEW.kid); END;
CREATE TRIGGER signing_keys_ad AFTER DELETE ON signing_keys BEGIN
    INSERT INTO change_log(kind, key) VALUES ('key', OLD.kid); END;

-- The example API's groups.
CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    public     INTEGER NOT NULL,
    custom     TEXT,
    parent_id  TEXT,
    extra      TEXT NOT NULL DEFAULT '{}'      -- the schema's other optional fields, as given (JSON)
);
CREATE INDEX groups_company ON groups(company_id, id);
CREATE INDEX groups_parent ON groups(parent_id);
