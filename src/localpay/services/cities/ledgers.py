"""The running ledgers of this process: one sequencer per city, started on demand."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import nacl.signing
import structlog

from localpay.domain.errors import Unavailable
from localpay.domain.limits import CLOCK_SKEW_MS_MAX
from localpay.ledger.ports import Store
from localpay.ledger.receipt import BlockObserver, Receipt
from localpay.ledger.sequencer import Sequencer
from localpay.ledger.signatures import SignatureVerifier
from localpay.ledger.tickets import Ticket

#: How long a caller waits for its block to become durable before giving up.
DEFAULT_TIMEOUT_S: Final = 30.0

OPERATOR: Final = "operator"

log = structlog.get_logger("localpay.ledgers")


class Keys(Protocol):
    def create(self, city: str, name: str) -> nacl.signing.SigningKey: ...

    def load(self, city: str, name: str) -> nacl.signing.SigningKey: ...

    def get_or_create(self, city: str, name: str) -> nacl.signing.SigningKey: ...

    def put(
        self, city: str, name: str, key: nacl.signing.SigningKey
    ) -> nacl.signing.SigningKey: ...

    def names(self, city: str) -> list[str]: ...


class MissingKey(Unavailable):
    """A key the city needs is not in the key store."""


def new_id() -> str:
    """A fresh 128-bit command id (the client's idempotency key)."""
    return os.urandom(16).hex()


class Ledgers:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        clock: Callable[[], int],
        verifier: SignatureVerifier | None = None,
        max_clock_skew_ms: int | None = CLOCK_SKEW_MS_MAX,
    ) -> None:
        """`max_clock_skew_ms=None` lets a simulated clock jump (the demo, tests)."""
        self.store = store
        self.keys = keys
        self.clock = clock
        self.max_clock_skew_ms = max_clock_skew_ms
        self.verifier = verifier or SignatureVerifier()
        self._running: dict[str, Sequencer] = {}
        # One per city: starting and stopping a city's sequencer happen under it, never
        # under self._lock, which every city's commands take.
        self._starting: dict[str, threading.Lock] = {}
        #: How long callers wait for a block (HTTP answers 503 past it).
        self.answer_timeout_s = DEFAULT_TIMEOUT_S
        self.observers: list[BlockObserver] = []
        self._lock = threading.Lock()

    def sequencer(self, city: str) -> Sequencer:
        """The city's running sequencer, started (or restarted after a failure) on demand.

        The shared lock only guards the dicts. Stopping a failed sequencer (its stages
        may be blocked on the store) and starting one (it reads the city's store) happen
        under the city's own lock: one city stuck on its store holds up no other."""
        with self._lock:
            seq = self._running.get(city)
            if seq is not None and seq.running:
                return seq
            starting = self._starting.setdefault(city, threading.Lock())
        with starting:
            return self._restart(city)

    def _restart(self, city: str) -> Sequencer:
        with self._lock:
            seq = self._running.get(city)
            if seq is not None and seq.running:
                return seq  # another caller started it meanwhile
            self._running.pop(city, None)
        if seq is not None:
            log.warning("sequencer_restart", city=city, reason=repr(seq.failure))
            # Returns within STOP_TIMEOUT_S; if a write still hangs, the old committer
            # keeps the lease until it returns and start() below raises LeaseHeld.
            seq.stop()
        operator = self.operator_key(city)
        seq = Sequencer(
            city,
            self.store,
            operator,
            self.clock,
            self.verifier,
            max_clock_skew_ms=self.max_clock_skew_ms,
            operator_keys=lambda public: self.operator_keys(city).get(public),
        )
        seq.observers.extend(self.observers)
        seq.start()
        with self._lock:
            self._running[city] = seq
        return seq

    def cities(self) -> list[str]:
        """Cities this process has started a sequencer for (running or failed since)."""
        with self._lock:
            return sorted(self._starting)

    def running_sequencer(self, city: str) -> Sequencer | None:
        with self._lock:
            return self._running.get(city)

    def operator_key(self, city: str) -> nacl.signing.SigningKey:
        """The city's operator key. Created only with a new city: a missing key for a city
        with a chain means the wrong key folder, and a new key would sign blocks that
        fail verification."""
        if self.store.head(city) is None:
            return self.keys.get_or_create(city, OPERATOR)
        try:
            return self.keys.load(city, OPERATOR)
        except KeyError:
            # After a rotation the genesis key may be destroyed: the sequencer signs with
            # the key the chain names (operator_keys), or refuses to start, naming it.
            if rotated := list(self.operator_keys(city).values()):
                return rotated[0]
            raise MissingKey(
                f"no operator key for city {city!r}: is --keys / LOCALPAY_KEYS "
                "the folder this city was created with?"
            ) from None

    def operator_keys(self, city: str) -> dict[str, nacl.signing.SigningKey]:
        """The city's operator keys in the key store by public key (hex): the genesis key
        `operator` and each rotation's `operator-<n>` (services/cities/officials.py)."""
        names = self.keys.names(city)
        found = [self.keys.load(city, n) for n in names if n.partition("-")[0] == OPERATOR]
        return {bytes(key.verify_key).hex(): key for key in found}

    def submit(self, city: str, data: bytes) -> Ticket[Receipt]:
        return self.sequencer(city).submit(data)

    def submit_many(self, city: str, items: Sequence[bytes]) -> list[Ticket[Receipt]]:
        return self.sequencer(city).submit_many(items)

    def execute(self, city: str, data: bytes, timeout: float | None = None) -> Receipt:
        """Submit and wait for the answer; TimeoutError after `answer_timeout_s` (the
        command may still land: retry the same bytes to learn its one answer)."""
        return self.submit(city, data).result(timeout or self.answer_timeout_s)

    def execute_many(
        self, city: str, items: Sequence[bytes], timeout: float = DEFAULT_TIMEOUT_S
    ) -> list[Receipt]:
        return [f.result(timeout) for f in self.submit_many(city, items)]

    def close(self) -> None:
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for seq in running:  # outside the lock: a stop may wait on a slow store
            seq.stop()
        self.verifier.close()
