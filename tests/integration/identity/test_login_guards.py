"""What signing in may cost and how often it may be tried, on both stores.

Outstanding challenges are bounded per wallet and in total and purged once expired; one
account name is throttled after a few tries without a success; a TOTP code signs in once;
password checks run a few at a time, with argon2 parameters sized for that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2
import pyotp
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_identity
from localpay.domain.errors import NotFound
from localpay.ledger.ports import Store
from localpay.services.cities.ledgers import Ledgers
from localpay.services.identity.service import (
    CHALLENGE_TTL_MS,
    AuthError,
    Identity,
    LoginLimits,
    Throttled,
    password_hasher,
)
from localpay.sim.bench import BenchCity

CITY = "guardcity"
PASSWORD = "long-enough-pass"
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = 1_780_000_000_000


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def city(store: Store, keys: KeyStore) -> Iterator[Store]:
    ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
    BenchCity(ledgers, CITY).set_up(wallets=4, merchants=1)
    ledgers.close()
    yield store


def _challenges(store: Store, wallet: str | None = None) -> int:
    if wallet is None:
        return int(store.sql("SELECT count(*) FROM challenges")[0][0])
    rows = store.sql("SELECT count(*) FROM challenges WHERE wallet = ?", (wallet,))
    return int(rows[0][0])


def test_no_challenge_is_kept_for_a_wallet_that_does_not_exist(city: Store) -> None:
    identity = open_identity(city, Clock(), FAST)
    with pytest.raises(NotFound):
        identity.challenge(CITY, "w-9999999")
    with pytest.raises(NotFound):
        identity.challenge("nowhere", "w-0000000")
    assert _challenges(city) == 0


def test_challenges_are_bounded_per_wallet_and_in_total_and_purged_once_expired(
    city: Store,
) -> None:
    clock = Clock()
    limits = LoginLimits(challenges_per_wallet=2, challenges=3)
    identity = open_identity(city, clock, FAST, limits)
    first = identity.challenge(CITY, "w-0000000")
    identity.challenge(CITY, "w-0000000")
    clock.now += 1
    newest = identity.challenge(CITY, "w-0000000")  # the wallet keeps its two newest
    kept = {r[0] for r in city.sql("SELECT nonce FROM challenges WHERE wallet = 'w-0000000'")}
    assert len(kept) == 2 and first not in kept and newest in kept
    identity.challenge(CITY, "w-0000001")
    with pytest.raises(Throttled) as refused:  # three outstanding in all: no fourth
        identity.challenge(CITY, "w-0000002")
    assert 1 <= refused.value.retry_after_s <= CHALLENGE_TTL_MS // 1000
    assert _challenges(city) == 3 and _challenges(city, "w-0000002") == 0
    clock.now += CHALLENGE_TTL_MS + 1
    identity.challenge(CITY, "w-0000002")  # the expired ones are purged on issue
    assert _challenges(city) == 1


def _user(store: Store, clock: Clock, name: str, limits: LoginLimits | None = None) -> Identity:
    identity = open_identity(store, clock, FAST, limits)
    identity.create_user(CITY, "city_auditor", name, PASSWORD)
    return identity


def test_an_account_is_throttled_after_failed_logins_until_the_window_passes(
    store: Store,
) -> None:
    clock = Clock()
    limits = LoginLimits(attempts=3, window_ms=60_000)
    identity = _user(store, clock, "guarded", limits)
    for _ in range(3):
        with pytest.raises(AuthError) as wrong:
            identity.login(CITY, "guarded", "not-the-password")
        assert not isinstance(wrong.value, Throttled)
    clock.now += 10_000
    with pytest.raises(Throttled) as refused:  # the right password too, for now
        identity.login(CITY, "guarded", PASSWORD)
    assert refused.value.retry_after_s == 50
    for _ in range(3):  # a name that does not exist: counted the same way
        with pytest.raises(AuthError):
            identity.login(CITY, "nobody", "not-the-password")
    with pytest.raises(Throttled) as unknown:
        identity.login(CITY, "nobody", PASSWORD)
    assert str(unknown.value) == str(refused.value).replace("50 s", "60 s")
    clock.now += 50_000
    assert identity.login(CITY, "guarded", PASSWORD).startswith("lps_")


def test_a_success_clears_the_count(store: Store) -> None:
    clock = Clock()
    identity = _user(store, clock, "forgetful", LoginLimits(attempts=3))
    for _ in range(2):
        for _ in range(2):
            with pytest.raises(AuthError):
                identity.login(CITY, "forgetful", "not-the-password")
        identity.login(CITY, "forgetful", PASSWORD)


def test_a_totp_code_signs_in_once(store: Store) -> None:
    clock = Clock()
    identity = _user(store, clock, "second-factor")
    user = store.sql("SELECT id FROM principals WHERE username = 'second-factor'")[0][0]
    totp = pyotp.TOTP(identity.enroll_totp(str(user)))
    step = clock.now // 1000 // 30
    code = totp.generate_otp(step)
    assert identity.login(CITY, "second-factor", PASSWORD, code)
    with pytest.raises(AuthError):  # the same code again: a replay
        identity.login(CITY, "second-factor", PASSWORD, code)
    with pytest.raises(AuthError):  # an older code, still inside the drift window
        identity.login(CITY, "second-factor", PASSWORD, totp.generate_otp(step - 1))
    clock.now += 30_000
    assert identity.login(CITY, "second-factor", PASSWORD, totp.generate_otp(step + 1))


def test_default_argon2_parameters_are_sized_for_concurrent_logins() -> None:
    made = argon2.extract_parameters(password_hasher().hash(PASSWORD))
    assert (made.type, made.memory_cost, made.time_cost, made.parallelism) == (
        argon2.Type.ID,
        19 * 1024,
        2,
        1,
    )


def test_an_old_hash_still_verifies_and_is_rehashed_at_sign_in(store: Store) -> None:
    clock = Clock()
    _user(store, clock, "old-hash")  # hashed with FAST's parameters
    newer = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    identity = open_identity(store, clock, newer)
    assert identity.login(CITY, "old-hash", PASSWORD)
    stored = store.sql("SELECT password_hash FROM principals WHERE username = 'old-hash'")[0][0]
    assert not newer.check_needs_rehash(str(stored))
    assert identity.login(CITY, "old-hash", PASSWORD)


class _Counting(argon2.PasswordHasher):
    """A real argon2 hasher that records how many verifications run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.lock = threading.Lock()
        self.running = self.most = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)  # a slow check, as a real one is: overlaps become certain
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_password_checks_run_a_few_at_a_time(store: Store) -> None:
    hasher = _Counting()
    identity = open_identity(store, Clock(), hasher, LoginLimits(password_checks=3, attempts=100))
    identity.create_user(CITY, "city_auditor", "busy", PASSWORD)
    with ThreadPoolExecutor(12) as pool:
        tokens = list(pool.map(lambda _: identity.login(CITY, "busy", PASSWORD), range(12)))
    assert len(set(tokens)) == 12
    assert hasher.most == 3
