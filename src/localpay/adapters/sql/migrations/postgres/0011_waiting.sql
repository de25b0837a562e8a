-- The fair waiting room of sale openings (services/waiting). Off the chain: a ticket is a
-- place in line, not money, and names nobody (no wallet, no person; only its hash is kept).
-- One opening per (city, program): when it opens, how fast people are let in, how long an
-- admitted person may take; `head` = the last place admitted, `issued` = the last place
-- handed out, `tokens_milli`/`clock_ms` = the pacing bucket at the time it was last moved.

CREATE TABLE waiting_openings (
    city          TEXT COLLATE "C" NOT NULL,
    program       TEXT COLLATE "C" NOT NULL,
    opens_ms      BIGINT NOT NULL,
    rate          BIGINT NOT NULL,
    window_ms     BIGINT NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    issued        BIGINT NOT NULL DEFAULT 0,
    head          BIGINT NOT NULL DEFAULT 0,
    tokens_milli  BIGINT NOT NULL DEFAULT 0,
    clock_ms      BIGINT NOT NULL,
    salt          BYTEA NOT NULL,
    updated_ms    BIGINT NOT NULL,
    PRIMARY KEY (city, program)
);

CREATE TABLE waiting_tickets (
    ticket_hash   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    city          TEXT COLLATE "C" NOT NULL,
    program       TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    joined_ms     BIGINT NOT NULL,
    admitted_ms   BIGINT,
    active_ms     BIGINT,
    UNIQUE (city, program, seq)
);
