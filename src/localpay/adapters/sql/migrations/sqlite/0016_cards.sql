-- Prepaid cards and terminals (services/payments/card). Off the chain. A card number is
-- never here in clear: `card` is its HMAC-SHA256 id under the city's card secret (what
-- the chain's bind_card names), `sealed` the number sealed under the master key, `last4`
-- for display. PINs only as argon2id hashes.

-- Per city: its 6-digit BIN ("941" and the city's index, in order of first use).
CREATE TABLE card_bins (
    city  TEXT NOT NULL PRIMARY KEY,
    bin   TEXT NOT NULL UNIQUE
);

CREATE TABLE cards (
    city        TEXT NOT NULL,
    card        TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    last4       TEXT NOT NULL,
    expiry      TEXT NOT NULL,          -- YYMM
    status      TEXT NOT NULL,          -- active | lost | blocked | replaced
    custodial   INTEGER NOT NULL,       -- 1: a card-only wallet (the city holds its key)
    sealed      BLOB NOT NULL,
    pin_hash    TEXT NOT NULL DEFAULT '',
    pin_tries   INTEGER NOT NULL DEFAULT 0,
    idem_key    TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    issued_ms   INTEGER NOT NULL,
    changed_ms  INTEGER NOT NULL,
    replaces    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (city, card),
    UNIQUE (city, idem_key)
);

CREATE INDEX cards_by_wallet ON cards (city, wallet, issued_ms);

-- Terminal id (ISO 8583 field 41) -> the merchant it belongs to; unique platform-wide, so
-- a terminal's request names its city.
CREATE TABLE card_terminals (
    terminal  TEXT NOT NULL PRIMARY KEY,
    city      TEXT NOT NULL,
    merchant  TEXT NOT NULL,
    added_by  TEXT NOT NULL,
    added_ms  INTEGER NOT NULL
);

CREATE INDEX card_terminals_by_merchant ON card_terminals (city, merchant, terminal);

-- The approval code (field 38) given for a hold: a completion or reversal names it.
CREATE TABLE card_approvals (
    city       TEXT NOT NULL,
    terminal   TEXT NOT NULL,
    auth_code  TEXT NOT NULL,
    hold       TEXT NOT NULL,
    PRIMARY KEY (city, terminal, auth_code)
);
