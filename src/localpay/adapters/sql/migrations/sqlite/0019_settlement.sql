-- Settlement (services/settlement): what is kept off the chain about payouts, statements
-- and reserves. The chain holds the payouts themselves (in transit, burned, returned) and
-- each payout account's digest; here are the files sent to the bank, their lines, the
-- imported statements, the reconciliation's exceptions and the reserve proofs.
-- Personal data (the holder's name, bank and account number; the pain.001 files that name
-- them) is kept only sealed under the master key, bound to its row.

CREATE TABLE settlement_accounts (
    city          TEXT NOT NULL,
    owner         TEXT NOT NULL,
    party_sealed  BLOB NOT NULL,
    digest        TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    PRIMARY KEY (city, owner)
);

CREATE TABLE settlement_batches (
    city          TEXT NOT NULL,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    execution     TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    status        TEXT NOT NULL,
    total         INTEGER NOT NULL,
    detail        TEXT NOT NULL,
    file_sealed   BLOB NOT NULL,
    PRIMARY KEY (city, id)
);

CREATE INDEX settlement_batches_by_created ON settlement_batches (city, created_ms, id);

-- `id` orders a payout's lines: the newest is the one a bank's answer is about.
CREATE TABLE settlement_lines (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    city          TEXT NOT NULL,
    batch         TEXT NOT NULL,
    position      INTEGER NOT NULL,
    payout        TEXT NOT NULL,
    owner         TEXT NOT NULL,
    owner_kind    TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    bank_ref      TEXT NOT NULL,
    UNIQUE (city, batch, position)
);

CREATE INDEX settlement_lines_by_payout ON settlement_lines (city, payout, id);
CREATE INDEX settlement_lines_by_owner ON settlement_lines (city, owner, batch);
CREATE INDEX settlement_lines_by_status ON settlement_lines (city, status);

CREATE TABLE settlement_statements (
    city          TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    day           TEXT NOT NULL,
    opening       INTEGER NOT NULL,
    closing       INTEGER NOT NULL,
    entries       INTEGER NOT NULL,
    matched       INTEGER NOT NULL,
    exceptions    INTEGER NOT NULL,
    imported_ms   INTEGER NOT NULL,
    PRIMARY KEY (city, statement_id)
);

CREATE INDEX settlement_statements_by_day ON settlement_statements (city, day, imported_ms);

CREATE TABLE settlement_matched (
    city          TEXT NOT NULL,
    ref           TEXT NOT NULL,
    PRIMARY KEY (city, ref)
);

-- One exception per statement, entry (bank_ref, line) and reason: a re-run of an
-- interrupted import adds none twice.
CREATE TABLE settlement_exceptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    city          TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    bank_ref      TEXT NOT NULL,
    end_to_end    TEXT NOT NULL,
    direction     TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    line          INTEGER NOT NULL,
    status        TEXT NOT NULL,
    note          TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    UNIQUE (city, statement_id, bank_ref, line, reason)
);

CREATE INDEX settlement_exceptions_by_status ON settlement_exceptions (city, status, id);

CREATE TABLE settlement_proofs (
    city           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    root           TEXT NOT NULL,
    at_ms          INTEGER NOT NULL,
    supply         INTEGER NOT NULL,
    in_transit     INTEGER NOT NULL,
    trust          INTEGER NOT NULL,
    statement_day  TEXT,
    unbooked       INTEGER NOT NULL,
    shortfall      INTEGER NOT NULL,
    PRIMARY KEY (city, size)
);
