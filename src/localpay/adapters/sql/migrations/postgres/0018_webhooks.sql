-- Webhooks (services/webhooks): merchants' endpoints with their delivery cursors, and the
-- log of every delivery attempt. The events themselves are derived from the chain (the
-- durable, ordered outbox), never stored. The signing secret is kept only sealed under the
-- master key; no personal data (merchant ids, event ids, HTTP statuses).

CREATE TABLE webhook_subscriptions (
    city              TEXT COLLATE "C" NOT NULL,
    id                TEXT COLLATE "C" NOT NULL,
    merchant          TEXT COLLATE "C" NOT NULL,
    url               TEXT NOT NULL,
    types             TEXT COLLATE "C" NOT NULL,
    secret_sealed     BYTEA NOT NULL,
    previous_sealed   BYTEA,
    previous_until_ms BIGINT NOT NULL,
    created_ms        BIGINT NOT NULL,
    cursor_seq        BIGINT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_ms           BIGINT NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    last_error        TEXT NOT NULL,
    rotation_key      TEXT NOT NULL,
    delivered_ms      BIGINT,
    PRIMARY KEY (city, id)
);

CREATE INDEX webhook_subscriptions_by_merchant ON webhook_subscriptions (city, merchant);

CREATE TABLE webhook_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    city          TEXT COLLATE "C" NOT NULL,
    subscription  TEXT COLLATE "C" NOT NULL,
    event_id      TEXT COLLATE "C" NOT NULL,
    type          TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    attempt       INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    at_ms         BIGINT NOT NULL,
    replay        INTEGER NOT NULL
);

CREATE INDEX webhook_attempts_by_subscription ON webhook_attempts (city, subscription, id);
