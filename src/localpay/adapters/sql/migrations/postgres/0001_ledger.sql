-- Text keys use the "C" collation: byte order, the same as SQLite, whatever the server locale.
-- The chain: blocks and transactions are append-only; state holds the latest
-- value of each ledger entity, written in the same transaction as its block.
CREATE TABLE blocks (
    city        TEXT    COLLATE "C" NOT NULL,
    height      BIGINT NOT NULL,
    hash        BYTEA    NOT NULL,
    header      BYTEA    NOT NULL,   -- canonical JSON of the header: what is hashed and signed
    signature   BYTEA    NOT NULL,   -- operator's Ed25519 signature of the hash
    checkpoint  TEXT    NOT NULL,   -- C2SP signed note of (log size, log root)
    frontier    BYTEA    NOT NULL,   -- compact range of the log after this block (JSON hex list)
    PRIMARY KEY (city, height)
);

CREATE TABLE txs (
    city      TEXT    COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,     -- leaf index in the city's log
    height    BIGINT NOT NULL,
    id        TEXT    COLLATE "C" NOT NULL,     -- the client's 128-bit idempotency id
    kind      TEXT    NOT NULL,
    envelope  BYTEA    NOT NULL,
    result    BYTEA    NOT NULL,
    PRIMARY KEY (city, seq)
);
CREATE UNIQUE INDEX txs_by_id ON txs (city, id);
CREATE INDEX txs_by_height ON txs (city, height);

CREATE TABLE state (
    city    TEXT    COLLATE "C" NOT NULL,
    key     TEXT    COLLATE "C" NOT NULL,
    value   BYTEA    NOT NULL,
    height  BIGINT NOT NULL,
    PRIMARY KEY (city, key)
);
