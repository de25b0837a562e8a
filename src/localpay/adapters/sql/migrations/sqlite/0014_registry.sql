-- The merchant registry (services/registry): applications and the officials' decisions.
-- Off the chain. The bank account, the business registration number, the owner's chosen
-- password (until the log-in is made) and the status token are sealed under the master
-- key (`sealed`, `sealed_password`); what is in the clear is public business
-- information (a trading name, a category, a neighbourhood) or one-way (hashes, the mask).

CREATE TABLE registry_applications (
    id              TEXT NOT NULL PRIMARY KEY,
    city            TEXT NOT NULL,
    status          TEXT NOT NULL,      -- pending | approved | refused
    merchant        TEXT NOT NULL,      -- the merchant id it gets on the chain
    token_hash      TEXT NOT NULL UNIQUE,  -- SHA-256 of the applicant's status token
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,      -- SHA-256 of the request: a reused key is refused
    brn_hash        TEXT NOT NULL,      -- the chain's registration_hash (salted SHA-256)
    name            TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    industry        TEXT NOT NULL,
    category        TEXT NOT NULL,
    area            TEXT NOT NULL,
    revenue         INTEGER NOT NULL,
    owner_username  TEXT NOT NULL,
    account_mask    TEXT NOT NULL,      -- e.g. 국민 ****-**-**1234
    sealed          BLOB NOT NULL,
    sealed_password BLOB,               -- emptied once the owner's log-in is made
    reason          TEXT NOT NULL DEFAULT '',
    created_ms      INTEGER NOT NULL,
    decided_ms      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (city, idem_key),
    UNIQUE (city, merchant)
);

CREATE INDEX registry_applications_by_status ON registry_applications (city, status, created_ms);

-- Per city: the salt of the registration hashes on the chain (kept off the chain, so the
-- chain's hash cannot be matched against the 10^9 possible numbers).
CREATE TABLE registry_salts (
    city  TEXT NOT NULL PRIMARY KEY,
    salt  TEXT NOT NULL
);

-- Which proposal (services/approvals) carries which step of a registry decision.
CREATE TABLE registry_decisions (
    city        TEXT NOT NULL,
    proposal    TEXT NOT NULL,
    subject     TEXT NOT NULL,          -- the merchant id
    step        TEXT NOT NULL,          -- register | approve | suspend | reinstate
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (city, proposal)
);

CREATE INDEX registry_decisions_by_subject ON registry_decisions (city, subject, created_ms);
