-- Settlement (services/settlement): what is kept off the chain about payouts, statements
-- and reserves. The chain holds the payouts themselves (in transit, burned, returned) and
-- each payout account's digest; here are the files sent to the bank, their lines, the
-- imported statements, the reconciliation's exceptions and the reserve proofs.
-- Personal data (the holder's name, bank and account number; the pain.001 files that name
-- them) is kept only sealed under the master key, bound to its row.

CREATE TABLE settlement_accounts (
    city          TEXT COLLATE "C" NOT NULL,
    owner         TEXT COLLATE "C" NOT NULL,
    party_sealed  BYTEA NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    at_ms         BIGINT NOT NULL,
    PRIMARY KEY (city, owner)
);

CREATE TABLE settlement_batches (
    city          TEXT COLLATE "C" NOT NULL,
    id            TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    execution     TEXT COLLATE "C" NOT NULL,
    created_ms    BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    total         BIGINT NOT NULL,
    detail        TEXT NOT NULL,
    file_sealed   BYTEA NOT NULL,
    PRIMARY KEY (city, id)
);

CREATE INDEX settlement_batches_by_created ON settlement_batches (city, created_ms, id);

-- `id` orders a payout's lines: the newest is the one a bank's answer is about.
CREATE TABLE settlement_lines (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    city          TEXT COLLATE "C" NOT NULL,
    batch         TEXT COLLATE "C" NOT NULL,
    position      BIGINT NOT NULL,
    payout        TEXT COLLATE "C" NOT NULL,
    owner         TEXT COLLATE "C" NOT NULL,
    owner_kind    TEXT COLLATE "C" NOT NULL,
    amount        BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    reason        TEXT COLLATE "C" NOT NULL,
    bank_ref      TEXT COLLATE "C" NOT NULL,
    UNIQUE (city, batch, position)
);

CREATE INDEX settlement_lines_by_payout ON settlement_lines (city, payout, id);
CREATE INDEX settlement_lines_by_owner ON settlement_lines (city, owner, batch);
CREATE INDEX settlement_lines_by_status ON settlement_lines (city, status);

CREATE TABLE settlement_statements (
    city          TEXT COLLATE "C" NOT NULL,
    statement_id  TEXT COLLATE "C" NOT NULL,
    day           TEXT COLLATE "C" NOT NULL,
    opening       BIGINT NOT NULL,
    closing       BIGINT NOT NULL,
    entries       BIGINT NOT NULL,
    matched       BIGINT NOT NULL,
    exceptions    BIGINT NOT NULL,
    imported_ms   BIGINT NOT NULL,
    PRIMARY KEY (city, statement_id)
);

CREATE INDEX settlement_statements_by_day ON settlement_statements (city, day, imported_ms);

CREATE TABLE settlement_matched (
    city          TEXT COLLATE "C" NOT NULL,
    ref           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (city, ref)
);

-- One exception per statement, entry (bank_ref, line) and reason: a re-run of an
-- interrupted import adds none twice.
CREATE TABLE settlement_exceptions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    city          TEXT COLLATE "C" NOT NULL,
    statement_id  TEXT COLLATE "C" NOT NULL,
    bank_ref      TEXT COLLATE "C" NOT NULL,
    end_to_end    TEXT COLLATE "C" NOT NULL,
    direction     TEXT COLLATE "C" NOT NULL,
    amount        BIGINT NOT NULL,
    reason        TEXT COLLATE "C" NOT NULL,
    detail        TEXT NOT NULL,
    line          BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    note          TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    UNIQUE (city, statement_id, bank_ref, line, reason)
);

CREATE INDEX settlement_exceptions_by_status ON settlement_exceptions (city, status, id);

CREATE TABLE settlement_proofs (
    city           TEXT COLLATE "C" NOT NULL,
    size           BIGINT NOT NULL,
    root           TEXT COLLATE "C" NOT NULL,
    at_ms          BIGINT NOT NULL,
    supply         BIGINT NOT NULL,
    in_transit     BIGINT NOT NULL,
    trust          BIGINT NOT NULL,
    statement_day  TEXT COLLATE "C",
    unbooked       BIGINT NOT NULL,
    shortfall      BIGINT NOT NULL,
    PRIMARY KEY (city, size)
);
