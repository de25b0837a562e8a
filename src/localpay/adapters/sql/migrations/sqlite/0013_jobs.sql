-- Scheduled jobs (services/jobs): which period each job of a city has done, so a restart
-- never runs a day's expiry or a month's cashback twice (the derived command ids are the
-- second guard), and the notice outbox derived from the chain: one row per (wallet, lot,
-- 30|7 days before its expiry), written once, delivered through a channel and retried.
-- Wallet ids and amounts only: no personal data.

CREATE TABLE job_runs (
    city        TEXT NOT NULL,
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,
    done_ms     INTEGER NOT NULL,
    summary     TEXT NOT NULL,
    PRIMARY KEY (city, job, period)
);

CREATE TABLE notices (
    city         TEXT NOT NULL,
    id           TEXT NOT NULL,
    wallet       TEXT NOT NULL,
    lot          TEXT NOT NULL,
    days_before  INTEGER NOT NULL,
    program      TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_ms      INTEGER NOT NULL,
    delivered_ms INTEGER,
    seen_ms      INTEGER,
    last_error   TEXT NOT NULL,
    PRIMARY KEY (city, id),
    UNIQUE (city, wallet, lot, days_before)
);

CREATE INDEX notices_by_wallet ON notices (city, wallet, created_ms);
CREATE INDEX notices_due ON notices (status, next_ms);
