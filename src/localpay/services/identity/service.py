"""Who is calling: people and machines, how they sign in, what role they hold.

Officials, merchant owners and cashiers, auditors and operator administrators sign
in with a password (argon2id) and, when enrolled, a TOTP code. Citizens have no
password: they prove they hold their wallet's key by signing a one-time challenge.
Merchant servers use scoped, revocable API keys. Every token and key is random,
shown once, and stored only as its SHA-256: a copy of the tables opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import argon2
import nacl.bindings
import nacl.exceptions
import pyotp

from localpay.domain.errors import NotFound, Refused
from localpay.ledger.ports import Store, StoreConflict
from localpay.services.cities.inspect import wallet_keys

ROLES: Final = (
    "citizen",
    "merchant_owner",
    "merchant_cashier",
    "merchant_api",
    "city_maker",
    "city_checker",
    "city_auditor",
    "operator_admin",
)
OFFICIAL_ROLES: Final = frozenset({"city_maker", "city_checker"})
CITY_STAFF: Final = frozenset({"city_maker", "city_checker", "city_auditor"})
MERCHANT_ROLES: Final = frozenset({"merchant_owner", "merchant_cashier", "merchant_api"})

SESSION_TTL_MS: Final = 8 * 3600 * 1000  # a working day
CITIZEN_SESSION_TTL_MS: Final = 30 * 24 * 3600 * 1000
CHALLENGE_TTL_MS: Final = 5 * 60 * 1000
LOGIN_PREFIX: Final = b"localpay/login/v1\n"
MIN_PASSWORD: Final = 12
WRONG: Final = "wrong user name, password or code"


def password_hasher() -> argon2.PasswordHasher:
    """argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane). The library's default (64 MiB,
    4 lanes) let a burst of logins take gigabytes; older hashes still verify, and are
    rehashed with these parameters at their next sign-in."""
    return argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class LoginLimits:
    """How much signing in may cost the server, and how often one account may be guessed."""

    #: Password checks (argon2, 19 MiB each) running at once; more wait their turn.
    password_checks: int = 4
    #: Logins of one (city, user name) without a success, per window, before it is throttled.
    attempts: int = 5
    window_ms: int = 15 * 60 * 1000
    #: Outstanding challenges of one wallet (issuing another drops the oldest) and in total.
    challenges_per_wallet: int = 5
    challenges: int = 100_000


class AuthError(Refused):
    """Sign-in refused. The message never says which part was wrong (user or password)."""


class Throttled(AuthError):
    """Refused for now, whoever asks and whatever they send: retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


class IdentityError(Refused, ValueError):
    """A request to create or change an identity is invalid; says why."""


@dataclass(frozen=True)
class Principal:
    id: str
    city: str
    role: str
    username: str | None = None
    merchant: str | None = None
    wallet: str | None = None
    official_key: str | None = None

    @property
    def is_official(self) -> bool:
        return self.role in OFFICIAL_ROLES

    def staff_of(self, city: str) -> bool:
        return self.role in CITY_STAFF and self.city == city


_COLUMNS: Final = "id, city, role, username, merchant, wallet, official_key"


def _principal(row: tuple[Any, ...]) -> Principal:
    return Principal(*row)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_message(city: str, wallet: str, nonce: str) -> bytes:
    """What a citizen signs to sign in: bound to the city, the wallet and one nonce."""
    return LOGIN_PREFIX + f"{city}\n{wallet}\n{nonce}".encode()


class Identity:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], int],
        hasher: argon2.PasswordHasher | None = None,
        limits: LoginLimits | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher or password_hasher()
        self.limits = limits or LoginLimits()
        # Each check holds its argon2 memory: a bound on them bounds a login burst's memory.
        self._checks = threading.BoundedSemaphore(self.limits.password_checks)
        self._dummy = self._hash(secrets.token_hex(16))

    # -- accounts --------------------------------------------------------------------------

    def create_user(
        self,
        city: str,
        role: str,
        username: str,
        password: str,
        merchant: str | None = None,
        official_key: str | None = None,
    ) -> Principal:
        if role not in ROLES or role in ("citizen", "merchant_api"):
            people = [r for r in ROLES if r not in ("citizen", "merchant_api")]
            raise IdentityError(f"role must be one of {', '.join(people)}")
        if len(password) < MIN_PASSWORD:
            raise IdentityError(f"a password needs at least {MIN_PASSWORD} characters")
        if (role in MERCHANT_ROLES) != (merchant is not None):
            raise IdentityError("merchant roles, and only they, name a merchant")
        if (role in OFFICIAL_ROLES) != (official_key is not None):
            raise IdentityError("makers and checkers, and only they, hold an official key")
        if (role == "operator_admin") != (city == "*"):
            raise IdentityError("operator administrators, and only they, belong to city '*'")
        principal = Principal(
            f"u-{secrets.token_hex(8)}", city, role, username, merchant, None, official_key
        )
        try:
            self.store.sql(
                "INSERT INTO principals (id, city, role, username, password_hash, merchant,"
                " official_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    principal.id,
                    city,
                    role,
                    username,
                    self._hash(password),
                    merchant,
                    official_key,
                    self.clock(),
                ),
            )
        except StoreConflict:
            raise IdentityError(f"user {username!r} already exists in {city!r}") from None
        return principal

    def enroll_totp(self, principal_id: str) -> str:
        """Turn on TOTP for a user; returns the base32 secret to put in an authenticator."""
        secret = pyotp.random_base32()
        self.store.sql("UPDATE principals SET totp_secret = ? WHERE id = ?", (secret, principal_id))
        return secret

    def principal(self, principal_id: str) -> Principal | None:
        rows = self.store.sql(
            f"SELECT {_COLUMNS} FROM principals WHERE id = ? AND disabled = 0", (principal_id,)
        )
        return _principal(rows[0]) if rows else None

    # -- sessions ----------------------------------------------------------------------------

    def login(self, city: str, username: str, password: str, totp: str | None = None) -> str:
        """A session token; AuthError if anything is wrong, Throttled after too many tries."""
        now = self.clock()
        self._count_attempt(city, username, now)
        rows = self.store.sql(
            "SELECT id, password_hash, totp_secret FROM principals"
            " WHERE city = ? AND username = ? AND disabled = 0",
            (city, username),
        )
        if not rows:
            # Same work as a real check, so timing does not reveal which users exist.
            self._verify(self._dummy, password)
            raise AuthError(WRONG)
        principal_id, password_hash, totp_secret = rows[0]
        if not self._verify(password_hash, password):
            raise AuthError(WRONG)
        if totp_secret and not (totp and self._use_totp(principal_id, totp_secret, totp, now)):
            raise AuthError(WRONG)
        self.store.sql(
            "DELETE FROM login_attempts WHERE city = ? AND username = ?", (city, username)
        )
        if self.hasher.check_needs_rehash(password_hash):
            self.store.sql(
                "UPDATE principals SET password_hash = ? WHERE id = ?",
                (self._hash(password), principal_id),
            )
        return self._session(principal_id, SESSION_TTL_MS)

    def _count_attempt(self, city: str, username: str, now: int) -> None:
        """Count this try against the account name (existing or not); Throttled past the limit.

        Counted before the password is checked, so concurrent guesses cannot slip past the
        limit; a success clears the count. Names that do not exist are counted the same way,
        so the answer never tells whether an account exists.
        """
        limits = self.limits
        _, rows = self.store.sql_batch(
            [
                ("DELETE FROM login_attempts WHERE since_ms <= ?", (now - limits.window_ms,)),
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
        if attempts > limits.attempts:
            wait_s = math.ceil((since_ms + limits.window_ms - now) / 1000)
            raise Throttled(
                f"too many sign-in attempts for this account; retry in {wait_s} s", wait_s
            )

    def _use_totp(self, principal_id: str, secret: str, code: str, now: int) -> bool:
        """Whether `code` is the user's current TOTP code (one step of drift either way) and
        its time step is newer than the last one used: each code signs in once."""
        totp = pyotp.TOTP(secret)
        current = now // 1000 // totp.interval
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                rows = self.store.sql(
                    "UPDATE principals SET totp_last_step = ? WHERE id = ?"
                    " AND (totp_last_step IS NULL OR totp_last_step < ?) RETURNING id",
                    (step, principal_id, step),
                )
                return bool(rows)
        return False

    def _hash(self, password: str) -> str:
        with self._checks:
            return self.hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            with self._checks:
                return self.hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def _session(self, principal_id: str, ttl_ms: int) -> str:
        token = "lps_" + secrets.token_urlsafe(32)
        self.store.sql(
            "INSERT INTO sessions (token_hash, principal, expires_ms) VALUES (?, ?, ?)",
            (token_hash(token), principal_id, self.clock() + ttl_ms),
        )
        return token

    def logout(self, token: str) -> None:
        self.store.sql("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def authenticate(self, token: str) -> Principal | None:
        """The principal behind a bearer token (session or API key), or None."""
        digest = token_hash(token)
        if token.startswith("lpk_"):
            rows = self.store.sql(
                f"SELECT {', '.join('p.' + c for c in _COLUMNS.split(', '))} FROM api_keys k"
                " JOIN principals p ON p.id = k.principal"
                " WHERE k.key_hash = ? AND k.revoked = 0 AND p.disabled = 0",
                (digest,),
            )
        else:
            rows = self.store.sql(
                f"SELECT {', '.join('p.' + c for c in _COLUMNS.split(', '))} FROM sessions s"
                " JOIN principals p ON p.id = s.principal"
                " WHERE s.token_hash = ? AND s.expires_ms > ? AND p.disabled = 0",
                (digest, self.clock()),
            )
        return _principal(rows[0]) if rows else None

    # -- merchant API keys ----------------------------------------------------------------------

    def issue_api_key(self, city: str, merchant: str, label: str) -> tuple[str, str]:
        """A key for a merchant's server (online mall, POS): (key id, key shown once)."""
        machine = Principal(f"k-{secrets.token_hex(8)}", city, "merchant_api", None, merchant)
        key_id = secrets.token_hex(6)
        key = f"lpk_{key_id}_{secrets.token_urlsafe(32)}"
        now = self.clock()
        self.store.sql_batch(
            [
                (
                    "INSERT INTO principals (id, city, role, merchant, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (machine.id, city, machine.role, merchant, now),
                ),
                (
                    "INSERT INTO api_keys (id, key_hash, principal, label, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (key_id, token_hash(key), machine.id, label[:80], now),
                ),
            ]
        )
        return key_id, key

    def revoke_api_key(self, city: str, merchant: str, key_id: str) -> bool:
        rows = self.store.sql(
            "UPDATE api_keys SET revoked = 1 WHERE id = ? AND revoked = 0 AND principal IN"
            " (SELECT id FROM principals WHERE city = ? AND merchant = ?) RETURNING id",
            (key_id, city, merchant),
        )
        return bool(rows)

    def api_keys(self, city: str, merchant: str) -> list[dict[str, Any]]:
        rows = self.store.sql(
            "SELECT k.id, k.label, k.revoked, k.created_ms FROM api_keys k JOIN principals p"
            " ON p.id = k.principal WHERE p.city = ? AND p.merchant = ? ORDER BY k.created_ms",
            (city, merchant),
        )
        return [
            {"id": r[0], "label": r[1], "revoked": bool(r[2]), "created_ms": r[3]} for r in rows
        ]

    # -- citizens ---------------------------------------------------------------------------------

    def challenge(self, city: str, wallet: str) -> str:
        """A nonce for the wallet to sign. NotFound for a wallet that does not exist (nothing
        is stored); Throttled when the table holds its bound of outstanding challenges."""
        wallet_keys(self.store, city, wallet)
        now, nonce, limits = self.clock(), secrets.token_hex(16), self.limits
        *_, made = self.store.sql_batch(
            [
                ("DELETE FROM challenges WHERE expires_ms <= ?", (now,)),
                # Room for this one: the wallet keeps only its newest challenges.
                (
                    "DELETE FROM challenges WHERE city = ? AND wallet = ? AND nonce NOT IN"
                    " (SELECT nonce FROM challenges WHERE city = ? AND wallet = ?"
                    " ORDER BY expires_ms DESC LIMIT ?)",
                    (city, wallet, city, wallet, limits.challenges_per_wallet - 1),
                ),
                (
                    "INSERT INTO challenges (nonce, city, wallet, expires_ms) SELECT ?, ?, ?, ?"
                    " WHERE (SELECT count(*) FROM challenges) < ? RETURNING nonce",
                    (nonce, city, wallet, now + CHALLENGE_TTL_MS, limits.challenges),
                ),
            ]
        )
        if not made:
            rows = self.store.sql("SELECT min(expires_ms) FROM challenges")
            first = rows[0][0] if rows and rows[0][0] is not None else now + 1000
            raise Throttled(
                "too many sign-ins under way; retry later", math.ceil((first - now) / 1000)
            )
        return nonce

    def citizen_login(self, city: str, wallet: str, nonce: str, key: str, signature: str) -> str:
        """A session for the wallet whose key signed login_message(city, wallet, nonce)."""
        rows = self.store.sql(
            "DELETE FROM challenges WHERE nonce = ? AND city = ? AND wallet = ? AND expires_ms > ?"
            " RETURNING nonce",
            (nonce, city, wallet, self.clock()),
        )
        if not rows:  # unknown, used or expired: each nonce signs in once
            raise AuthError("the challenge is unknown, used or expired")
        try:
            if key not in wallet_keys(self.store, city, wallet):
                raise AuthError("that key does not belong to this wallet")
            nacl.bindings.crypto_sign_open(
                bytes.fromhex(signature) + login_message(city, wallet, nonce), bytes.fromhex(key)
            )
        except (NotFound, ValueError, TypeError, nacl.exceptions.CryptoError):
            raise AuthError("the signature does not prove the wallet's key") from None
        return self._session(self._citizen(city, wallet), CITIZEN_SESSION_TTL_MS)

    def _citizen(self, city: str, wallet: str) -> str:
        rows = self.store.sql(
            "SELECT id FROM principals WHERE city = ? AND wallet = ?", (city, wallet)
        )
        if rows:
            return str(rows[0][0])
        principal_id = f"c-{os.urandom(8).hex()}"
        self.store.sql(
            "INSERT INTO principals (id, city, role, wallet, created_ms)"
            " VALUES (?, ?, 'citizen', ?, ?)",
            (principal_id, city, wallet, self.clock()),
        )
        return principal_id
