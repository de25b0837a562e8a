"""Who is calling: people and machines, how they sign in, what role they hold.

Officials, merchant owners and cashiers, auditors and operator administrators sign
in with a password (argon2id) and, when enrolled, a TOTP code. Citizens have no
password: they prove they hold their wallet's key by signing a one-time challenge.
Merchant servers use scoped, revocable API keys. Every token and key is random,
shown once, and stored only as its SHA-256: a copy of the tables opens nothing. TOTP
secrets are kept sealed under the master key by the repository (services/identity/ports).
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
from typing import Final

import argon2
import nacl.bindings
import nacl.exceptions
import pyotp

from localpay.domain.errors import NotFound, Refused

# Re-exported: callers name roles and principals from the service.
from localpay.domain.principals import CITY_STAFF as CITY_STAFF  # noqa: PLC0414
from localpay.domain.principals import OFFICIAL_ROLES as OFFICIAL_ROLES  # noqa: PLC0414
from localpay.domain.principals import ApiKeyListing
from localpay.domain.principals import Principal as Principal  # noqa: PLC0414
from localpay.ledger.ports import Store
from localpay.services.cities.inspect import wallet_keys
from localpay.services.identity.ports import IdentityRepository

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
MERCHANT_ROLES: Final = frozenset({"merchant_owner", "merchant_cashier", "merchant_api"})

#: The cookie that carries a person's session token (pages and API read the same one).
SESSION_COOKIE: Final = "localpay_session"
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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_message(city: str, wallet: str, nonce: str) -> bytes:
    """What a citizen signs to sign in: bound to the city, the wallet and one nonce."""
    return LOGIN_PREFIX + f"{city}\n{wallet}\n{nonce}".encode()


class Identity:
    """`records` keep who may sign in; `chain` (the ledger's store) says which keys a
    wallet has."""

    def __init__(
        self,
        records: IdentityRepository,
        chain: Store,
        clock: Callable[[], int],
        hasher: argon2.PasswordHasher | None = None,
        limits: LoginLimits | None = None,
    ) -> None:
        self.records = records
        self.chain = chain
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
        if not self.records.add_person(principal, self._hash(password), self.clock()):
            raise IdentityError(f"user {username!r} already exists in {city!r}")
        return principal

    def enroll_totp(self, principal_id: str) -> str:
        """Turn on TOTP for a user; returns the base32 secret to put in an authenticator."""
        secret = pyotp.random_base32()
        self.records.set_totp_secret(principal_id, secret)
        return secret

    def principal(self, principal_id: str) -> Principal | None:
        return self.records.principal(principal_id)

    # -- sessions ----------------------------------------------------------------------------

    def login(self, city: str, username: str, password: str, totp: str | None = None) -> str:
        """A session token; AuthError if anything is wrong, Throttled after too many tries."""
        now = self.clock()
        self._count_attempt(city, username, now)
        found = self.records.credentials(city, username)
        if found is None:
            # Same work as a real check, so timing does not reveal which users exist.
            self._verify(self._dummy, password)
            raise AuthError(WRONG)
        principal_id, secret = found.principal_id, found.totp_secret
        if not self._verify(found.password_hash, password):
            raise AuthError(WRONG)
        if secret and not (totp and self._use_totp(principal_id, secret, totp, now)):
            raise AuthError(WRONG)
        self.records.clear_attempts(city, username)
        if self.hasher.check_needs_rehash(found.password_hash):
            self.records.set_password_hash(principal_id, self._hash(password))
        return self._session(principal_id, SESSION_TTL_MS)

    def _count_attempt(self, city: str, username: str, now: int) -> None:
        """Count this try against the account name (existing or not); Throttled past the limit.

        Counted before the password is checked, so concurrent guesses cannot slip past the
        limit; a success clears the count. Names that do not exist are counted the same way,
        so the answer never tells whether an account exists.
        """
        limits = self.limits
        attempts, since_ms = self.records.count_attempt(city, username, now, limits.window_ms)
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
                return self.records.use_totp_step(principal_id, step)
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
        self.records.add_session(token_hash(token), principal_id, self.clock() + ttl_ms)
        return token

    def logout(self, token: str) -> None:
        self.records.drop_session(token_hash(token))

    def authenticate(self, token: str) -> Principal | None:
        """The principal behind a bearer token (session or API key), or None."""
        digest = token_hash(token)
        if token.startswith("lpk_"):
            return self.records.by_api_key(digest)
        return self.records.by_session(digest, self.clock())

    # -- merchant API keys ----------------------------------------------------------------------

    def issue_api_key(self, city: str, merchant: str, label: str) -> tuple[str, str]:
        """A key for a merchant's server (online mall, POS): (key id, key shown once)."""
        machine = Principal(f"k-{secrets.token_hex(8)}", city, "merchant_api", None, merchant)
        key_id = secrets.token_hex(6)
        key = f"lpk_{key_id}_{secrets.token_urlsafe(32)}"
        self.records.add_api_key(machine, key_id, token_hash(key), label[:80], self.clock())
        return key_id, key

    def revoke_api_key(self, city: str, merchant: str, key_id: str) -> bool:
        return self.records.revoke_api_key(city, merchant, key_id)

    def api_keys(self, city: str, merchant: str) -> list[ApiKeyListing]:
        """A merchant's keys, oldest first (never a key itself: it was shown once)."""
        return self.records.api_keys(city, merchant)

    # -- citizens ---------------------------------------------------------------------------------

    def challenge(self, city: str, wallet: str) -> str:
        """A nonce for the wallet to sign. NotFound for a wallet that does not exist (nothing
        is stored); Throttled when the table holds its bound of outstanding challenges."""
        wallet_keys(self.chain, city, wallet)
        now, nonce, limits = self.clock(), secrets.token_hex(16), self.limits
        made = self.records.add_challenge(
            nonce,
            city,
            wallet,
            now,
            now + CHALLENGE_TTL_MS,
            limits.challenges_per_wallet,
            limits.challenges,
        )
        if not made:
            oldest = self.records.first_challenge_expiry()
            first = oldest if oldest is not None else now + 1000
            raise Throttled(
                "too many sign-ins under way; retry later", math.ceil((first - now) / 1000)
            )
        return nonce

    def citizen_login(self, city: str, wallet: str, nonce: str, key: str, signature: str) -> str:
        """A session for the wallet whose key signed login_message(city, wallet, nonce)."""
        if not self.records.take_challenge(nonce, city, wallet, self.clock()):
            # unknown, used or expired: each nonce signs in once
            raise AuthError("the challenge is unknown, used or expired")
        try:
            if key not in wallet_keys(self.chain, city, wallet):
                raise AuthError("that key does not belong to this wallet")
            nacl.bindings.crypto_sign_open(
                bytes.fromhex(signature) + login_message(city, wallet, nonce), bytes.fromhex(key)
            )
        except (NotFound, ValueError, TypeError, nacl.exceptions.CryptoError):
            raise AuthError("the signature does not prove the wallet's key") from None
        return self._session(self._citizen(city, wallet), CITIZEN_SESSION_TTL_MS)

    def _citizen(self, city: str, wallet: str) -> str:
        known = self.records.citizen(city, wallet)
        if known is not None:
            return known
        principal_id = f"c-{os.urandom(8).hex()}"
        self.records.add_citizen(principal_id, city, wallet, self.clock())
        return principal_id
