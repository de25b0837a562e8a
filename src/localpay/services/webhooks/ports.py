"""What the webhooks keep off the chain (subscriptions with their cursors, the delivery
log), the sender that POSTs a signed event, and the master key that seals the secrets.

The chain itself is the outbox: events are derived from it (events.py), so the store
keeps only where each subscription has got to, never the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: A subscription's health: delivering, or failing (its head event has used up the
#: backoff schedule; it is still tried, at the capped interval).
ACTIVE = "active"
FAILING = "failing"


@dataclass(frozen=True)
class Subscription:
    """One endpoint of a merchant. `cursor`: the seq of the last transaction of the city's
    log that is done for it (delivered, or not an event for it). `attempts`: failed tries
    of the event right after the cursor; `next_ms`: when the next try is due."""

    city: str
    id: str
    merchant: str
    url: str
    types: tuple[str, ...]  # empty: every type
    secret_sealed: bytes
    previous_sealed: bytes | None  # the secret before a rotation, still signed with ...
    previous_until_ms: int  # ... until then
    created_ms: int
    cursor: int
    attempts: int
    next_ms: int
    status: str
    last_error: str
    delivered_ms: int | None
    rotation_key: str = ""  # the idempotency key of the last rotation (a repeat is refused)


@dataclass(frozen=True)
class Attempt:
    """One POST of an event to an endpoint, as the delivery log keeps it. `status_code`
    None: no HTTP answer (refused connection, timeout); `error` says which."""

    city: str
    subscription: str
    event_id: str
    type: str
    seq: int
    attempt: int
    status_code: int | None
    error: str
    duration_ms: int
    at_ms: int
    replay: bool


@dataclass(frozen=True)
class LoggedAttempt:
    """An attempt with its place in the log (`id`, increasing), for paging."""

    id: int
    attempt: Attempt


class WebhookRepository(Protocol):
    def add(self, subscription: Subscription) -> bool:
        """Store a new subscription; False if one with its id exists already."""
        ...

    def get(self, city: str, subscription: str) -> Subscription | None: ...

    def of_merchant(self, city: str, merchant: str) -> list[Subscription]: ...

    def cities(self) -> list[str]:
        """Cities that have at least one subscription."""
        ...

    def of_city(self, city: str) -> list[Subscription]: ...

    def delete(self, city: str, subscription: str) -> bool: ...

    def rotate(
        self, city: str, subscription: str, sealed: bytes, previous: bytes, until_ms: int, key: str
    ) -> bool:
        """A new sealed secret, the old one signing until `until_ms`; False if the last
        rotation had this (non-empty) key: a repeated request rotates nothing."""
        ...

    def advance(
        self, city: str, subscription: str, expected: int, cursor: int, delivered_ms: int | None
    ) -> bool:
        """Move the cursor from `expected` to `cursor`, clear the failures, and note the
        delivery's time if one was made; False (and nothing changed) if the cursor is no
        longer `expected` (a replay moved it)."""
        ...

    def failed(
        self,
        city: str,
        subscription: str,
        expected: int,
        cursor: int,
        attempts: int,
        next_ms: int,
        status: str,
        error: str,
    ) -> bool:
        """Count a failed try of the event right after `cursor` (the cursor moves there
        from `expected` past the transactions that were no event); False if it moved."""
        ...

    def rewind(self, city: str, subscription: str, cursor: int, now_ms: int) -> None:
        """Set the cursor (a replay from a height) and make the subscription due now."""
        ...

    def log(self, attempts: Sequence[Attempt]) -> None: ...

    def attempts(
        self, city: str, subscription: str, before: int | None, limit: int
    ) -> list[LoggedAttempt]:
        """The delivery log of a subscription, newest first, with id < before."""
        ...


@dataclass(frozen=True)
class Sent:
    """What came of one POST: the HTTP status (None: no answer) and how long it took."""

    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender(Protocol):
    """POSTs a body with headers to a URL, with timeouts; never raises for the
    endpoint's failures (they are a `Sent` without a 2xx)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent: ...


class Sealer(Protocol):
    """The master key as the service uses it (adapters/secrets.Sealer)."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...


def secret_context(city: str, subscription: str) -> bytes:
    """What a sealed secret is bound to: its subscription (a seal moved to another row
    does not open)."""
    return f"localpay/webhook-secret/v1\n{city}\n{subscription}".encode()
