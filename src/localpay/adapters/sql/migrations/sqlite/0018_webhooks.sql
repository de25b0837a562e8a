-- Webhooks (services/webhooks): merchants' endpoints with their delivery cursors, and the
-- log of every delivery attempt. The events themselves are derived from the chain (the
-- durable, ordered outbox), never stored. The signing secret is kept only sealed under the
-- master key; no personal data (merchant ids, event ids, HTTP statuses).

CREATE TABLE webhook_subscriptions (
    city              TEXT NOT NULL,
    id                TEXT NOT NULL,
    merchant          TEXT NOT NULL,
    url               TEXT NOT NULL,
    types             TEXT NOT NULL,
    secret_sealed     BLOB NOT NULL,
    previous_sealed   BLOB,
    previous_until_ms INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    cursor_seq        INTEGER NOT NULL,
    attempts          INTEGER NOT NULL,
    next_ms           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    last_error        TEXT NOT NULL,
    rotation_key      TEXT NOT NULL,
    delivered_ms      INTEGER,
    PRIMARY KEY (city, id)
);

CREATE INDEX webhook_subscriptions_by_merchant ON webhook_subscriptions (city, merchant);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    city          TEXT NOT NULL,
    subscription  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    type          TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    at_ms         INTEGER NOT NULL,
    replay        INTEGER NOT NULL
);

CREATE INDEX webhook_attempts_by_subscription ON webhook_attempts (city, subscription, id);
