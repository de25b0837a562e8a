-- The chain: blocks and transactions are append-only; state holds the latest
-- value of each ledger entity, written in the same transaction as its block.
CREATE TABLE blocks (
    city        TEXT    NOT NULL,
    height      INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    header      BLOB    NOT NULL,   -- canonical JSON of the header: what is hashed and signed
    signature   BLOB    NOT NULL,   -- operator's Ed25519 signature of the hash
    checkpoint  TEXT    NOT NULL,   -- C2SP signed note of (log size, log root)
    frontier    BLOB    NOT NULL,   -- compact range of the log after this block (JSON hex list)
    PRIMARY KEY (city, height)
);

CREATE TABLE txs (
    city      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,     -- leaf index in the city's log
    height    INTEGER NOT NULL,
    id        TEXT    NOT NULL,     -- the client's 128-bit idempotency id
    kind      TEXT    NOT NULL,
    envelope  BLOB    NOT NULL,
    result    BLOB    NOT NULL,
    PRIMARY KEY (city, seq)
);
CREATE UNIQUE INDEX txs_by_id ON txs (city, id);
CREATE INDEX txs_by_height ON txs (city, height);

CREATE TABLE state (
    city    TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    value   BLOB    NOT NULL,
    height  INTEGER NOT NULL,
    PRIMARY KEY (city, key)
);
