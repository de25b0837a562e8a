-- Sales off the chain (services/sales): each order placed through the sales service and
-- the virtual account the bank opened for it, and each deposit notice the bank sent, with
-- the confirm_purchase it became. No personal data: wallets are pseudonymous ids, a
-- virtual account belongs to one order, not to a person.

CREATE TABLE sale_orders (
    city        TEXT COLLATE "C" NOT NULL,
    order_id    TEXT COLLATE "C" NOT NULL,
    wallet      TEXT COLLATE "C" NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    amount      BIGINT NOT NULL,
    bonus       BIGINT NOT NULL,
    account     TEXT COLLATE "C" NOT NULL UNIQUE,
    deadline_ms BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (city, order_id)
);

CREATE INDEX sale_orders_wallet ON sale_orders (city, wallet, created_ms);

CREATE TABLE sale_notices (
    notice      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    city        TEXT COLLATE "C" NOT NULL,
    order_id    TEXT COLLATE "C" NOT NULL,
    amount      BIGINT NOT NULL,
    deposit_ref TEXT COLLATE "C" NOT NULL,
    tx          TEXT COLLATE "C" NOT NULL,
    code        TEXT COLLATE "C" NOT NULL
);

CREATE INDEX sale_notices_city ON sale_notices (city, order_id);
