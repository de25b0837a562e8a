"""The identity tables behind services/identity/ports.py, and their sealed TOTP secrets.

One query text for both dialects. A TOTP secret is kept only sealed under the master key
(adapters/secrets.py), bound to its principal's id, in `totp_sealed`; the plaintext
column `totp_secret` of older versions is emptied by `seal_plain_totp`.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from localpay.adapters.secrets import MasterKeyMismatch, Sealer, mismatch, seal_of
from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.domain.principals import ApiKeyListing, Credentials, Principal
from localpay.ledger.ports import StoreConflict

_COLUMNS: Final = "id, city, role, username, merchant, wallet, official_key"
_P_COLUMNS: Final = ", ".join("p." + c for c in _COLUMNS.split(", "))
_PRINCIPAL: Final = f"SELECT {_COLUMNS} FROM principals WHERE id = ? AND disabled = 0"
_BY_SESSION: Final = (
    f"SELECT {_P_COLUMNS} FROM sessions s JOIN principals p ON p.id = s.principal"
    " WHERE s.token_hash = ? AND s.expires_ms > ? AND p.disabled = 0"
)
_BY_API_KEY: Final = (
    f"SELECT {_P_COLUMNS} FROM api_keys k JOIN principals p ON p.id = k.principal"
    " WHERE k.key_hash = ? AND k.revoked = 0 AND p.disabled = 0"
)
_CREDENTIALS: Final = (
    "SELECT id, password_hash, totp_secret, totp_sealed FROM principals"
    " WHERE city = ? AND username = ? AND disabled = 0"
)
_SEALED: Final = "SELECT id, totp_sealed FROM principals WHERE totp_sealed IS NOT NULL"
# Compare-and-set: a row changed meanwhile (enrolled again) is left to its newer secret.
_RESEAL: Final = "UPDATE principals SET totp_sealed = ? WHERE id = ? AND totp_sealed = ?"


def _principal(row: Row) -> Principal:
    return Principal(*row)


def _context(principal_id: str) -> bytes:
    """What a sealed TOTP secret is bound to: its row."""
    return f"localpay/principals.totp_secret/v1\n{principal_id}".encode()


class SqlIdentityRepository:
    def __init__(self, store: SqlRunner, master: Sealer) -> None:
        self.store = store
        self.master = master

    # -- principals --------------------------------------------------------------------------

    def add_person(self, principal: Principal, password_hash: str, created_ms: int) -> bool:
        p = principal
        try:
            self.store.sql(
                "INSERT INTO principals (id, city, role, username, password_hash, merchant,"
                " official_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.id,
                    p.city,
                    p.role,
                    p.username,
                    password_hash,
                    p.merchant,
                    p.official_key,
                    created_ms,
                ),
            )
        except StoreConflict:
            return False
        return True

    def principal(self, principal_id: str) -> Principal | None:
        rows = self.store.sql(_PRINCIPAL, (principal_id,))
        return _principal(rows[0]) if rows else None

    def credentials(self, city: str, username: str) -> Credentials | None:
        rows = self.store.sql(_CREDENTIALS, (city, username))
        if not rows:
            return None
        principal_id, password_hash, plain, sealed = rows[0]
        secret = self._open(principal_id, bytes(sealed)) if sealed is not None else plain
        return Credentials(principal_id, password_hash, secret)

    def set_password_hash(self, principal_id: str, password_hash: str) -> None:
        self.store.sql(
            "UPDATE principals SET password_hash = ? WHERE id = ?", (password_hash, principal_id)
        )

    def set_totp_secret(self, principal_id: str, secret: str) -> None:
        sealed = self.master.seal(secret.encode(), _context(principal_id))
        self.store.sql(
            "UPDATE principals SET totp_sealed = ?, totp_secret = NULL WHERE id = ?",
            (sealed, principal_id),
        )

    def use_totp_step(self, principal_id: str, step: int) -> bool:
        rows = self.store.sql(
            "UPDATE principals SET totp_last_step = ? WHERE id = ?"
            " AND (totp_last_step IS NULL OR totp_last_step < ?) RETURNING id",
            (step, principal_id, step),
        )
        return bool(rows)

    # -- failed logins -----------------------------------------------------------------------

    def count_attempt(self, city: str, username: str, now: int, window_ms: int) -> tuple[int, int]:
        _, rows = self.store.sql_batch(
            [
                ("DELETE FROM login_attempts WHERE since_ms <= ?", (now - window_ms,)),
                (
                    "INSERT INTO login_attempts (city, username, attempts, since_ms)"
                    " VALUES (?, ?, 1, ?) ON CONFLICT (city, username)"
                    " DO UPDATE SET attempts = login_attempts.attempts + 1"
                    " RETURNING attempts, since_ms",
                    (city, username, now),
                ),
            ]
        )
        attempts, since_ms = rows[0]
        return int(attempts), int(since_ms)

    def clear_attempts(self, city: str, username: str) -> None:
        self.store.sql(
            "DELETE FROM login_attempts WHERE city = ? AND username = ?", (city, username)
        )

    # -- sessions and API keys ---------------------------------------------------------------

    def add_session(self, token_hash: str, principal_id: str, expires_ms: int) -> None:
        self.store.sql(
            "INSERT INTO sessions (token_hash, principal, expires_ms) VALUES (?, ?, ?)",
            (token_hash, principal_id, expires_ms),
        )

    def drop_session(self, token_hash: str) -> None:
        self.store.sql("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def by_session(self, token_hash: str, now: int) -> Principal | None:
        rows = self.store.sql(_BY_SESSION, (token_hash, now))
        return _principal(rows[0]) if rows else None

    def by_api_key(self, key_hash: str) -> Principal | None:
        rows = self.store.sql(_BY_API_KEY, (key_hash,))
        return _principal(rows[0]) if rows else None

    def add_api_key(
        self, machine: Principal, key_id: str, key_hash: str, label: str, created_ms: int
    ) -> None:
        self.store.sql_batch(
            [
                (
                    "INSERT INTO principals (id, city, role, merchant, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (machine.id, machine.city, machine.role, machine.merchant, created_ms),
                ),
                (
                    "INSERT INTO api_keys (id, key_hash, principal, label, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (key_id, key_hash, machine.id, label, created_ms),
                ),
            ]
        )

    def revoke_api_key(self, city: str, merchant: str, key_id: str) -> bool:
        rows = self.store.sql(
            "UPDATE api_keys SET revoked = 1 WHERE id = ? AND revoked = 0 AND principal IN"
            " (SELECT id FROM principals WHERE city = ? AND merchant = ?) RETURNING id",
            (key_id, city, merchant),
        )
        return bool(rows)

    def api_keys(self, city: str, merchant: str) -> list[ApiKeyListing]:
        rows = self.store.sql(
            "SELECT k.id, k.label, k.revoked, k.created_ms FROM api_keys k JOIN principals p"
            " ON p.id = k.principal WHERE p.city = ? AND p.merchant = ? ORDER BY k.created_ms",
            (city, merchant),
        )
        return [ApiKeyListing(r[0], r[1], bool(r[2]), int(r[3])) for r in rows]

    # -- citizens ----------------------------------------------------------------------------

    def add_challenge(
        self,
        nonce: str,
        city: str,
        wallet: str,
        now: int,
        expires_ms: int,
        per_wallet: int,
        total: int,
    ) -> bool:
        *_, made = self.store.sql_batch(
            [
                ("DELETE FROM challenges WHERE expires_ms <= ?", (now,)),
                # Room for this one: the wallet keeps only its newest challenges.
                (
                    "DELETE FROM challenges WHERE city = ? AND wallet = ? AND nonce NOT IN"
                    " (SELECT nonce FROM challenges WHERE city = ? AND wallet = ?"
                    " ORDER BY expires_ms DESC LIMIT ?)",
                    (city, wallet, city, wallet, per_wallet - 1),
                ),
                (
                    "INSERT INTO challenges (nonce, city, wallet, expires_ms) SELECT ?, ?, ?, ?"
                    " WHERE (SELECT count(*) FROM challenges) < ? RETURNING nonce",
                    (nonce, city, wallet, expires_ms, total),
                ),
            ]
        )
        return bool(made)

    def first_challenge_expiry(self) -> int | None:
        rows = self.store.sql("SELECT min(expires_ms) FROM challenges")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def take_challenge(self, nonce: str, city: str, wallet: str, now: int) -> bool:
        rows = self.store.sql(
            "DELETE FROM challenges WHERE nonce = ? AND city = ? AND wallet = ? AND expires_ms > ?"
            " RETURNING nonce",
            (nonce, city, wallet, now),
        )
        return bool(rows)

    def citizen(self, city: str, wallet: str) -> str | None:
        rows = self.store.sql(
            "SELECT id FROM principals WHERE city = ? AND wallet = ?", (city, wallet)
        )
        return str(rows[0][0]) if rows else None

    def add_citizen(self, principal_id: str, city: str, wallet: str, created_ms: int) -> None:
        self.store.sql(
            "INSERT INTO principals (id, city, role, wallet, created_ms)"
            " VALUES (?, ?, 'citizen', ?, ?)",
            (principal_id, city, wallet, created_ms),
        )

    # -- the master key: checks, status, rotation (the `keys` commands, start-up) -------------

    def seal_plain_totp(self) -> int:
        """Seal the TOTP secrets an older version kept in plain text, and clear them."""
        rows = self.store.sql(
            "SELECT id, totp_secret FROM principals"
            " WHERE totp_secret IS NOT NULL AND totp_sealed IS NULL"
        )
        for principal_id, secret in rows:
            sealed = self.master.seal(str(secret).encode(), _context(principal_id))
            self.store.sql(
                "UPDATE principals SET totp_sealed = ?, totp_secret = NULL"
                " WHERE id = ? AND totp_sealed IS NULL",
                (sealed, principal_id),
            )
        return len(rows)

    def check_totp(self) -> None:
        """MasterKeyMismatch, naming both versions, if a TOTP secret is under another key."""
        for _, blob in self.store.sql(_SEALED):
            seal = seal_of(bytes(blob))
            if seal is not None and seal.key_id != self.master.key_id:
                raise MasterKeyMismatch(mismatch("the store's TOTP secrets", seal, self.master))

    def reseal_totp(self, new: Sealer) -> int:
        """Seal every TOTP secret under `new`, one row at a time (each update whole or not
        at all); rows already under `new` are skipped, so a re-run finishes the job."""
        resealed = self.seal_plain_totp()
        for principal_id, blob in self.store.sql(_SEALED):
            old = bytes(blob)
            seal = seal_of(old)
            if seal is not None and seal.key_id == new.key_id:
                continue
            secret = self._open(principal_id, old)
            sealed = new.seal(secret.encode(), _context(principal_id))
            resealed += len(self.store.sql(_RESEAL + " RETURNING id", (sealed, principal_id, old)))
        self.master = new
        return resealed

    def _open(self, principal_id: str, blob: bytes) -> str:
        seal = seal_of(blob)
        if seal is not None and seal.key_id != self.master.key_id:
            raise MasterKeyMismatch(mismatch("the store's TOTP secrets", seal, self.master))
        return self.master.open(blob, _context(principal_id)).decode()


def totp_status(store: SqlRunner) -> Counter[str]:
    """How many TOTP secrets each master key sealed ("v1 (id)"), or "plain"; needs no key."""
    found: Counter[str] = Counter()
    for _, blob in store.sql(_SEALED):
        seal = seal_of(bytes(blob))
        found[seal.label() if seal else "unreadable"] += 1
    plain = store.sql("SELECT count(*) FROM principals WHERE totp_secret IS NOT NULL")
    if plain[0][0]:
        found["plain"] += int(plain[0][0])
    return found
