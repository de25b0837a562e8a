-- Scheduled jobs (services/jobs): which period each job of a city has done, so a restart
-- never runs a day's expiry or a month's cashback twice (the derived command ids are the
-- second guard), and the notice outbox derived from the chain: one row per (wallet, lot,
-- 30|7 days before its expiry), written once, delivered through a channel and retried.
-- Wallet ids and amounts only: no personal data.

CREATE TABLE job_runs (
    city        TEXT COLLATE "C" NOT NULL,
    job         TEXT COLLATE "C" NOT NULL,
    period      TEXT COLLATE "C" NOT NULL,
    done_ms     BIGINT NOT NULL,
    summary     TEXT NOT NULL,
    PRIMARY KEY (city, job, period)
);

CREATE TABLE notices (
    city         TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    wallet       TEXT COLLATE "C" NOT NULL,
    lot          TEXT COLLATE "C" NOT NULL,
    days_before  INTEGER NOT NULL,
    program      TEXT COLLATE "C" NOT NULL,
    amount       BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    attempts     INTEGER NOT NULL,
    next_ms      BIGINT NOT NULL,
    delivered_ms BIGINT,
    seen_ms      BIGINT,
    last_error   TEXT NOT NULL,
    PRIMARY KEY (city, id),
    UNIQUE (city, wallet, lot, days_before)
);

CREATE INDEX notices_by_wallet ON notices (city, wallet, created_ms);
CREATE INDEX notices_due ON notices (status, next_ms);
