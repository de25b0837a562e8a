-- Policy money off the chain (services/programs). The city's data on a citizen
-- (birth date, residence, employment) is kept sealed under the master key only until
-- the decision, then deleted: what remains is the decision and the salted hash of the
-- data (the hash also goes on the chain with each payment). Disbursement batches: the
-- uploaded rows with their verdicts, and the execution's progress.

CREATE TABLE eligibility_evidence (
    city        TEXT COLLATE "C" NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    wallet      TEXT COLLATE "C" NOT NULL,
    sealed      BYTEA NOT NULL,
    loaded_ms   BIGINT NOT NULL,
    PRIMARY KEY (city, program, wallet)
);

CREATE TABLE eligibility_decisions (
    city        TEXT COLLATE "C" NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    wallet      TEXT COLLATE "C" NOT NULL,
    eligible    BIGINT NOT NULL,
    reasons     TEXT COLLATE "C" NOT NULL,
    evidence    TEXT COLLATE "C" NOT NULL,
    salt        TEXT COLLATE "C" NOT NULL,
    decided_on  TEXT COLLATE "C" NOT NULL,
    decided_ms  BIGINT NOT NULL,
    PRIMARY KEY (city, program, wallet)
);

CREATE TABLE batches (
    city        TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    maker       TEXT COLLATE "C" NOT NULL,
    file_name   TEXT COLLATE "C" NOT NULL,
    lines       BIGINT NOT NULL,
    row_count   BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    root        TEXT COLLATE "C" NOT NULL,
    proposal    TEXT COLLATE "C" NOT NULL,
    next_row    BIGINT NOT NULL,
    paid_rows   BIGINT NOT NULL,
    refused_rows BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (city, id)
);

-- One line of the file: `row_no` is its number in the batch (0..rows-1) when valid, else -1.
CREATE TABLE batch_lines (
    city        TEXT COLLATE "C" NOT NULL,
    batch       TEXT COLLATE "C" NOT NULL,
    line        BIGINT NOT NULL,
    row_no      BIGINT NOT NULL,
    wallet      TEXT COLLATE "C" NOT NULL,
    amount      BIGINT NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    reference   TEXT COLLATE "C" NOT NULL,
    evidence    TEXT COLLATE "C" NOT NULL,
    verdict     TEXT COLLATE "C" NOT NULL,
    outcome     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (city, batch, line)
);
CREATE INDEX batch_lines_rows ON batch_lines (city, batch, row_no);
CREATE INDEX batch_lines_refs ON batch_lines (city, program, wallet, reference);
