-- Which accounts each transaction concerns: the index behind wallet and merchant
-- histories. Written with its block; derived data (verify does not depend on it).
CREATE TABLE tx_parties (
    city     TEXT    NOT NULL,
    account  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (city, account, seq)
) WITHOUT ROWID;
