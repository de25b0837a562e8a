-- A witness's own records (`localpay witness`), kept in the witness's store beside the
-- copy of the chain it verified. Nothing here is on the chain.
--
-- witness_signed: every checkpoint this witness cosigned. It never signs a second root
-- for a size it signed before: two roots for one size is proof of a fork.
CREATE TABLE witness_signed (
    city       TEXT    NOT NULL,
    size       INTEGER NOT NULL,   -- the checkpoint's tree size
    root       TEXT    NOT NULL,   -- its RFC 6962 root, hex
    signed_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, size)
) WITHOUT ROWID;

-- witness_alarms: an inconsistency the witness found. While a city has one, the witness
-- signs nothing more for it, across restarts, until an operator clears it
-- (`localpay witness-alarm --clear`).
CREATE TABLE witness_alarms (
    city       TEXT    NOT NULL PRIMARY KEY,
    reason     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    height     INTEGER NOT NULL,   -- the block height it was found at (-1: not a block)
    raised_ms  INTEGER NOT NULL
);
