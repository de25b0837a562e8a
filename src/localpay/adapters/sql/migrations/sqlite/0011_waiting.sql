-- The fair waiting room of sale openings (services/waiting). Off the chain: a ticket is a
-- place in line, not money, and names nobody (no wallet, no person; only its hash is kept).
-- One opening per (city, program): when it opens, how fast people are let in, how long an
-- admitted person may take; `head` = the last place admitted, `issued` = the last place
-- handed out, `tokens_milli`/`clock_ms` = the pacing bucket at the time it was last moved.

CREATE TABLE waiting_openings (
    city          TEXT NOT NULL,
    program       TEXT NOT NULL,
    opens_ms      INTEGER NOT NULL,
    rate          INTEGER NOT NULL,
    window_ms     INTEGER NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    issued        INTEGER NOT NULL DEFAULT 0,
    head          INTEGER NOT NULL DEFAULT 0,
    tokens_milli  INTEGER NOT NULL DEFAULT 0,
    clock_ms      INTEGER NOT NULL,
    salt          BLOB NOT NULL,
    updated_ms    INTEGER NOT NULL,
    PRIMARY KEY (city, program)
);

CREATE TABLE waiting_tickets (
    ticket_hash   TEXT NOT NULL PRIMARY KEY,
    city          TEXT NOT NULL,
    program       TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    joined_ms     INTEGER NOT NULL,
    admitted_ms   INTEGER,
    active_ms     INTEGER,
    UNIQUE (city, program, seq)
);
