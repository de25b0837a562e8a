-- Policy money off the chain (services/programs). The city's data on a citizen
-- (birth date, residence, employment) is kept sealed under the master key only until
-- the decision, then deleted: what remains is the decision and the salted hash of the
-- data (the hash also goes on the chain with each payment). Disbursement batches: the
-- uploaded rows with their verdicts, and the execution's progress.

CREATE TABLE eligibility_evidence (
    city        TEXT NOT NULL,
    program     TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    loaded_ms   INTEGER NOT NULL,
    PRIMARY KEY (city, program, wallet)
);

CREATE TABLE eligibility_decisions (
    city        TEXT NOT NULL,
    program     TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    eligible    INTEGER NOT NULL,
    reasons     TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    salt        TEXT NOT NULL,
    decided_on  TEXT NOT NULL,
    decided_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, program, wallet)
);

CREATE TABLE batches (
    city        TEXT NOT NULL,
    id          TEXT NOT NULL,
    program     TEXT NOT NULL,
    maker       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    lines       INTEGER NOT NULL,
    row_count   INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    root        TEXT NOT NULL,
    proposal    TEXT NOT NULL,
    next_row    INTEGER NOT NULL,
    paid_rows   INTEGER NOT NULL,
    refused_rows INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, id)
);

-- One line of the file: `row_no` is its number in the batch (0..rows-1) when valid, else -1.
CREATE TABLE batch_lines (
    city        TEXT NOT NULL,
    batch       TEXT NOT NULL,
    line        INTEGER NOT NULL,
    row_no      INTEGER NOT NULL,
    wallet      TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    program     TEXT NOT NULL,
    reference   TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (city, batch, line)
);
CREATE INDEX batch_lines_rows ON batch_lines (city, batch, row_no);
CREATE INDEX batch_lines_refs ON batch_lines (city, program, wallet, reference);
