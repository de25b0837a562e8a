-- Guards on signing in: a TOTP code signs in once, failed logins are counted per
-- account name, and outstanding citizen challenges are found by wallet and expiry.

-- The newest TOTP time step (Unix seconds / 30) that signed this user in: a code of that
-- step or an older one is refused, so an overheard code cannot be replayed (RFC 6238 5.2).
ALTER TABLE principals ADD COLUMN totp_last_step BIGINT;

-- Logins per (city, user name) not yet followed by a success, in the current window. Kept for
-- names that do not exist too, so a throttled answer reveals nothing about who exists.
CREATE TABLE login_attempts (
    city        TEXT    COLLATE "C" NOT NULL,
    username    TEXT    COLLATE "C" NOT NULL,
    attempts    BIGINT  NOT NULL,
    since_ms    BIGINT  NOT NULL,
    PRIMARY KEY (city, username)
);
CREATE INDEX login_attempts_since ON login_attempts (since_ms);

CREATE INDEX challenges_by_wallet ON challenges (city, wallet, expires_ms);
CREATE INDEX challenges_expiry ON challenges (expires_ms);
