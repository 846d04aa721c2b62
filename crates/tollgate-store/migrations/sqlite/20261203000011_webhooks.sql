-- Webhooks: a company's endpoints and the queue of deliveries to them.
-- `secret` / `previous_secret`: HMAC-SHA-256 keys, sealed under the KEK when one is configured
-- (as signing keys are); the previous one still signs until `previous_until` (a rotation).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    secret          BLOB NOT NULL,
    previous_secret BLOB,
    previous_until  BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhooks_company ON webhooks(company_id, created_at);

-- One row per (event, endpoint), queued in the transaction of the audit entry it reports (an
-- outbox): written once whichever node made the change. A sender claims due rows with a lease
-- (`locked_until`), so one node sends each; `payload` is fixed when queued.
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    msg_id          TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    last_attempt_at BIGINT,
    next_attempt_at BIGINT,
    locked_until    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, seq);

-- The nearest expiry warning already written for a credential's current expiry (30, 7 or 1 days;
-- 0: none yet): each is written once, by one node. A new expiry starts again.
ALTER TABLE credentials ADD COLUMN expiry_warned INTEGER NOT NULL DEFAULT 0;
