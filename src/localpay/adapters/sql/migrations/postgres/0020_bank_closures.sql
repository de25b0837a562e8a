-- A city's own bank closures (services/settlement): days its trust account's bank does
-- not settle beyond Korea's public and bank holidays (holidays.KR): a local holiday, a
-- bank's system day. Payouts roll past them like past a holiday.

CREATE TABLE settlement_closures (
    city    TEXT NOT NULL,
    day     TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (city, day)
);
