-- Which accounts each transaction concerns: the index behind wallet and merchant
-- histories. Written with its block; derived data (verify does not depend on it).
CREATE TABLE tx_parties (
    city     TEXT    COLLATE "C" NOT NULL,
    account  TEXT    COLLATE "C" NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (city, account, seq)
);
