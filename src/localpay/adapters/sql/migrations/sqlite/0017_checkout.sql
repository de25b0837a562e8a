-- Online checkout (services/payments/checkout): the intents merchant servers create, kept
-- off the chain until a citizen approves one; then the chain's hold (named by the intent)
-- says what happened to the money. No personal data: the merchant's order id, amount,
-- return URL and description are the merchant's own; the wallet that approved is not
-- kept here (the chain's hold names it).
--
-- `state` is what only the store knows: open, cancelled (by the merchant), expired (not
-- approved in time). `status`, `hold`, `captured` and `refunded` are the last status
-- derived from the chain, kept so an intent still shows it after the chain retired its
-- hold record. `request_key` makes a repeated create (the same
-- merchant and Idempotency-Key) find the first intent.

CREATE TABLE checkout_intents (
    city        TEXT NOT NULL,
    intent      TEXT NOT NULL,
    merchant    TEXT NOT NULL,
    request_key TEXT NOT NULL,
    order_ref   TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    return_url  TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL,
    hold        TEXT NOT NULL DEFAULT '',
    captured    INTEGER NOT NULL DEFAULT 0,
    refunded    INTEGER NOT NULL DEFAULT 0,
    changed_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, intent),
    UNIQUE (city, merchant, request_key)
);

CREATE INDEX checkout_intents_merchant ON checkout_intents (city, merchant, created_ms);
CREATE INDEX checkout_intents_due ON checkout_intents (status, expires_ms);
