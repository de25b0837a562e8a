-- Dynamic merchant QR codes (services/payments/qr/requests.py): a payment request made at the
-- counter or by the POS for one amount, with a one-time reference valid a few minutes. Off the
-- chain: what reaches the chain is the wallet's signed Pay naming `qr:<reference>`.
-- No personal data: a shop, an amount, times and the command id that paid it.

CREATE TABLE qr_requests (
    city        TEXT NOT NULL,
    reference   TEXT NOT NULL,          -- EMVCo 62/05 reference label, 16 characters
    merchant    TEXT NOT NULL,
    amount      INTEGER NOT NULL,       -- whole won
    idem_key    TEXT NOT NULL,          -- the creator's idempotency key
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    command     TEXT NOT NULL DEFAULT '',   -- the Pay command claimed for it, '' while open
    claimed_ms  INTEGER NOT NULL DEFAULT 0,
    paid_ms     INTEGER NOT NULL DEFAULT 0, -- when the ledger applied that Pay
    PRIMARY KEY (city, reference),
    UNIQUE (city, merchant, idem_key)
);

-- One command pays at most one request (a claim is a unique fact, not a read-then-write).
CREATE UNIQUE INDEX qr_requests_by_command ON qr_requests (city, command) WHERE command <> '';
