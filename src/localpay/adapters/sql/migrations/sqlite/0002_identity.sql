-- Who may use the API: people and machines, their sessions and keys; the HTTP
-- idempotency records; maker-checker proposals. None of this is on the chain,
-- and none of it is personal data beyond a login name the city chose.
CREATE TABLE principals (
    id             TEXT    NOT NULL PRIMARY KEY,
    city           TEXT    NOT NULL,   -- '*' for operator administrators
    role           TEXT    NOT NULL,
    username       TEXT,               -- NULL for citizens (they sign in with their wallet key)
    password_hash  TEXT,               -- argon2id
    totp_secret    TEXT,               -- base32, plaintext today (a known gap: encrypt at rest)
    merchant       TEXT,               -- for merchant owners and cashiers
    wallet         TEXT,               -- for citizens
    official_key   TEXT,               -- key file name of an official's custodial key
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_ms     INTEGER NOT NULL
);
CREATE UNIQUE INDEX principals_login ON principals (city, username);

CREATE TABLE sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY,   -- SHA-256 of the bearer token: a stolen table opens nothing
    principal    TEXT    NOT NULL,
    expires_ms   INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    key_hash     TEXT    NOT NULL UNIQUE,
    principal    TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL
);

CREATE TABLE challenges (
    nonce        TEXT    NOT NULL PRIMARY KEY,
    city         TEXT    NOT NULL,
    wallet       TEXT    NOT NULL,
    expires_ms   INTEGER NOT NULL
);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,   -- the principal (or client address) that sent the key
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    media_type   TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE proposals (
    id           TEXT    NOT NULL PRIMARY KEY,
    city         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    body         BLOB    NOT NULL,   -- canonical command body the officials sign
    sigs         BLOB    NOT NULL,   -- JSON list of {key, sig} collected so far
    maker        TEXT    NOT NULL,
    status       TEXT    NOT NULL,   -- pending | submitted | rejected
    outcome      TEXT,               -- the receipt (JSON) once submitted
    created_ms   INTEGER NOT NULL
);
CREATE INDEX proposals_by_city ON proposals (city, status, created_ms);

CREATE UNIQUE INDEX principals_wallet ON principals (city, wallet);
