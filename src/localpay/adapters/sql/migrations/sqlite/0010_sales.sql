-- Sales off the chain (services/sales): each order placed through the sales service and
-- the virtual account the bank opened for it, and each deposit notice the bank sent, with
-- the confirm_purchase it became. No personal data: wallets are pseudonymous ids, a
-- virtual account belongs to one order, not to a person.

CREATE TABLE sale_orders (
    city        TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    wallet      TEXT NOT NULL,
    program     TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    bonus       INTEGER NOT NULL,
    account     TEXT NOT NULL UNIQUE,
    deadline_ms INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, order_id)
);

CREATE INDEX sale_orders_wallet ON sale_orders (city, wallet, created_ms);

CREATE TABLE sale_notices (
    notice      TEXT NOT NULL PRIMARY KEY,
    city        TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    deposit_ref TEXT NOT NULL,
    tx          TEXT NOT NULL,
    code        TEXT NOT NULL
);

CREATE INDEX sale_notices_city ON sale_notices (city, order_id);
