-- tollgate schema (PostgreSQL). Mirrors migrations/sqlite. Times are Unix seconds (BIGINT).
-- Identifiers are compared byte-wise (COLLATE "C"), as SQLite does, so ordering and paging do not
-- depend on the database's locale.

CREATE TABLE settings (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE companies (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,            -- space-delimited scope ceiling
    max_credentials BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE credentials (
    client_id    TEXT COLLATE "C" PRIMARY KEY,
    company_id   TEXT COLLATE "C" NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    scopes       TEXT NOT NULL,               -- space-delimited
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX credentials_company ON credentials(company_id, created_at);

-- Keyed hashes (HMAC-SHA-256) of secrets; two rows per credential during a rotation's grace period.
CREATE TABLE credential_secrets (
    id         TEXT COLLATE "C" PRIMARY KEY,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES credentials(client_id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX credential_secrets_client ON credential_secrets(client_id);

CREATE TABLE signing_keys (
    kid           TEXT COLLATE "C" PRIMARY KEY,
    alg           TEXT NOT NULL,
    private_pkcs8 BYTEA NOT NULL,
    public        BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    retired_at    BIGINT
);

-- The change feed: every write to the tables the hot path caches appends (kind, key), and the
-- commit wakes every node LISTENing on `tollgate_changes`.
CREATE TABLE change_log (
    seq  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    at   BIGINT NOT NULL DEFAULT (floor(extract(epoch FROM clock_timestamp()))::bigint)
);

-- Where a prune of the whole feed stopped (SQLite keeps it in `settings`).
CREATE TABLE change_log_pruned (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    through  BIGINT NOT NULL
);

-- Readers follow the feed by `seq`, so a sequence number must never become visible after a higher
-- one: otherwise a reader that saw seq 11 would skip seq 10 committed a moment later. Writers that
-- append to the feed therefore take one transaction-scoped advisory lock first and keep it until
-- they commit, so sequence numbers are handed out in commit order. (Writes to the cached tables are
-- administrative and rare; token issuance and API calls never write here.) The two-key form lives
-- in a key space apart from the one-key form sqlx uses for its migration lock.
CREATE FUNCTION tollgate_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_key TEXT;
    new_seq     BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT ($1).%I::text', TG_ARGV[1]) USING OLD INTO changed_key;
    ELSE
        EXECUTE format('SELECT ($1).%I::text', TG_ARGV[1]) USING NEW INTO changed_key;
    END IF;
    PERFORM pg_advisory_xact_lock(7461, 1);
    INSERT INTO change_log(kind, key) VALUES (TG_ARGV[0], changed_key) RETURNING seq INTO new_seq;
    -- Delivered at commit, to every session LISTENing in this database; dropped on rollback.
    PERFORM pg_notify('tollgate_changes', new_seq::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER companies_ai AFTER INSERT ON companies
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('company', 'id');
CREATE TRIGGER companies_au AFTER UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('company', 'id');
CREATE TRIGGER companies_ad AFTER DELETE ON companies
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('company', 'id');

CREATE TRIGGER credentials_ai AFTER INSERT ON credentials
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');
CREATE TRIGGER credentials_au AFTER UPDATE OF company_id, label, scopes ON credentials
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');
CREATE TRIGGER credentials_ad AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');

CREATE TRIGGER credential_secrets_ai AFTER INSERT ON credential_secrets
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');
CREATE TRIGGER credential_secrets_au AFTER UPDATE ON credential_secrets
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');
CREATE TRIGGER credential_secrets_ad AFTER DELETE ON credential_secrets
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('credential', 'client_id');

CREATE TRIGGER signing_keys_ai AFTER INSERT ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('key', 'kid');
CREATE TRIGGER signing_keys_au AFTER UPDATE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('key', 'kid');
CREATE TRIGGER signing_keys_ad AFTER DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION tollgate_log_change('key', 'kid');

-- The example API's groups.
CREATE TABLE groups (
    id         TEXT COLLATE "C" PRIMARY KEY,
    company_id TEXT COLLATE "C" NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    public     BOOLEAN NOT NULL,
    custom     TEXT,
    parent_id  TEXT COLLATE "C",
    extra      TEXT NOT NULL DEFAULT '{}'      -- the schema's other optional fields, as given (JSON)
);
CREATE INDEX groups_company ON groups(company_id, id);
CREATE INDEX groups_parent ON groups(parent_id);
