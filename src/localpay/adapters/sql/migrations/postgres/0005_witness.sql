-- A witness's own records (`localpay witness`), kept in the witness's store beside the
-- copy of the chain it verified. Nothing here is on the chain.
--
-- witness_signed: every checkpoint this witness cosigned. It never signs a second root
-- for a size it signed before: two roots for one size is proof of a fork.
CREATE TABLE witness_signed (
    city       TEXT    COLLATE "C" NOT NULL,
    size       BIGINT  NOT NULL,   -- the checkpoint's tree size
    root       TEXT    COLLATE "C" NOT NULL,   -- its RFC 6962 root, hex
    signed_ms  BIGINT  NOT NULL,
    PRIMARY KEY (city, size)
);

-- witness_alarms: an inconsistency the witness found. While a city has one, the witness
-- signs nothing more for it, across restarts, until an operator clears it
-- (`localpay witness-alarm --clear`).
CREATE TABLE witness_alarms (
    city       TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    reason     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    height     BIGINT  NOT NULL,   -- the block height it was found at (-1: not a block)
    raised_ms  BIGINT  NOT NULL
);
