-- Users of the admin panel, their sessions, and the audit log (mirrors migrations/sqlite).
CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    company_id    TEXT COLLATE "C" NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    email         TEXT COLLATE "C" NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_company ON users(company_id, created_at);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id_hash    TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE audit_log (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    company_id  TEXT COLLATE "C" NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    remote_addr TEXT
);
CREATE INDEX audit_log_company ON audit_log(company_id, seq);
