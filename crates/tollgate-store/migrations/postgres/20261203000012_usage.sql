-- How credentials are used, written in batches by each node (never on the request's path):
-- per credential and UTC day (days since the Unix epoch), the counts each node adds; per secret,
-- its last token request. Separate tables, so that these writes fire no change-feed trigger.
CREATE TABLE credential_usage (
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES credentials(client_id) ON DELETE CASCADE,
    day          BIGINT NOT NULL,
    tokens       BIGINT NOT NULL DEFAULT 0,
    api_calls    BIGINT NOT NULL DEFAULT 0,
    failed_auth  BIGINT NOT NULL DEFAULT 0,
    rate_limited BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, day)
);

CREATE TABLE secret_usage (
    secret_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES credential_secrets(id) ON DELETE CASCADE,
    last_used_at BIGINT NOT NULL,
    last_used_ip TEXT
);
