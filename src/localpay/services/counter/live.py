"""Live payments for counter screens: a block observer that hands each committed payment
or refund of a merchant to the screens watching that merchant, and to no one else.

The sequencer's thread calls the observer and must never wait on a browser: each
subscription is a bounded queue filled under a short lock, and a subscriber that lets
its queue fill (a stalled phone, a dead tab) is dropped instead of slowing anyone. A
dropped screen reconnects and resumes from the last event it saw (its `Last-Event-ID`,
a transaction's seq): the hub keeps each merchant's last RECENT events for that, and
the route reads older ones from the merchant's history.

Nothing here knows about asyncio: a subscriber gives a `wake` callable, called (outside
the lock) whenever its queue gains events or it is dropped; the web route passes one
that wakes its event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import structlog

from localpay.domain.commands import (
    Capture,
    ClaimCode,
    DecodeError,
    Hold,
    Pay,
    Refund,
    decode_envelope,
)
from localpay.domain.errors import Unavailable
from localpay.ledger.blocks import BlockRecord, TxRecord
from localpay.ledger.results import Result

#: Events a subscriber may have waiting before it is dropped (it then reconnects).
QUEUE_MAX: Final = 256
#: Recent events kept per merchant, for a screen that reconnects.
RECENT: Final = 64
#: Screens watching one merchant at most (a counter has a few; a loop in a script more).
SUBSCRIBERS_MAX: Final = 32

log = structlog.get_logger("localpay.counter")

#: Transactions a counter shows: payments (a customer's code captured at the counter, a
#: card purchase or a captured card or checkout hold are each one, shown as a payment) and
#: refunds. A hold not captured yet is no payment: the shop was not paid.
_KINDS: Final = ("pay", "refund", "claim_code", "hold", "capture")
_Paid = Pay | Refund | ClaimCode | Hold | Capture


@dataclass(frozen=True)
class LiveTx:
    """A committed payment to a merchant, or a refund of one."""

    seq: int
    id: str
    kind: str  # "pay" or "refund"
    amount: int
    time_ms: int
    payment: str  # the payment a refund refunds; for a payment its own id


def live_tx(tx: TxRecord, time_ms: int, merchant: str | None = None) -> LiveTx | None:
    """The LiveTx of a stored transaction if it is an applied pay or refund (of `merchant`
    when given); None otherwise."""
    if tx.kind not in _KINDS:
        return None
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return None
    if not isinstance(command, _Paid) or (merchant and command.merchant != merchant):
        return None
    if isinstance(command, Hold) and not command.capture:
        return None
    if not tx.decoded_result().ok:
        return None
    # A captured hold's payment record has the hold's id (refunds name it).
    payment = command.payment if isinstance(command, Refund) else command.id
    if isinstance(command, Capture):
        payment = command.hold
    kind = "refund" if isinstance(command, Refund) else "pay"
    return LiveTx(tx.seq, tx.id, kind, command.amount, time_ms, payment)


def merchant_of(tx: TxRecord) -> str | None:
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return None
    return command.merchant if isinstance(command, _Paid) else None


class TooManyScreens(Unavailable):
    """More screens watch this merchant than a counter needs."""


@dataclass(eq=False)
class Subscription:
    """One screen's queue. `take()` what arrived; once `dropped`, the screen must
    reconnect (the hub sends it nothing more)."""

    city: str
    merchant: str
    wake: Callable[[], None]
    queue: deque[LiveTx] = field(default_factory=deque)
    dropped: bool = False
    closed: bool = False

    def take(self, hub: LivePayments) -> list[LiveTx]:
        with hub.lock:
            items = list(self.queue)
            self.queue.clear()
        return items


class LivePayments:
    """The hub: a block observer (register it on `ledgers.observers`) and subscriptions."""

    def __init__(self, queue_max: int = QUEUE_MAX, recent: int = RECENT) -> None:
        self.queue_max = queue_max
        self.recent_max = recent
        self.lock = threading.Lock()
        self._subs: dict[tuple[str, str], list[Subscription]] = {}
        self._recent: dict[tuple[str, str], deque[LiveTx]] = {}
        self.dropped = 0  # how many subscribers were dropped for falling behind

    def subscribe(
        self, city: str, merchant: str, wake: Callable[[], None], after: int | None = None
    ) -> Subscription:
        """Watch `merchant` of `city`; with `after` (the last seq seen), the recent events
        after it are queued at once, in the same step, so nothing falls in between."""
        sub = Subscription(city, merchant, wake)
        place = (city, merchant)
        with self.lock:
            subs = self._subs.setdefault(place, [])
            if len(subs) >= SUBSCRIBERS_MAX:
                raise TooManyScreens(f"too many screens watch merchant {merchant!r}")
            subs.append(sub)
            if after is not None:
                sub.queue.extend(e for e in self._recent.get(place, ()) if e.seq > after)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            sub.closed = True
            self._remove(sub)

    def recent(self, city: str, merchant: str) -> list[LiveTx]:
        with self.lock:
            return list(self._recent.get((city, merchant), ()))

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        """Called by the sequencer after each durable block: quick, and never raises."""
        try:
            self.publish(city, self._events(block))
        except Exception:  # an observer must not break the sequencer
            log.exception("counter_observer_failed", city=city)

    @staticmethod
    def _events(block: BlockRecord) -> list[tuple[str, LiveTx]]:
        found = []
        for tx in block.txs:
            if tx.kind not in _KINDS:
                continue  # cheap: most of a block needs no decoding here
            merchant = merchant_of(tx)
            event = live_tx(tx, block.header.time_ms) if merchant else None
            if merchant and event:
                found.append((merchant, event))
        return found

    def publish(self, city: str, events: Iterable[tuple[str, LiveTx]]) -> None:
        """Queue each (merchant, event) for that merchant's screens; drop a full one."""
        to_wake: list[Subscription] = []
        with self.lock:
            for merchant, event in events:
                place = (city, merchant)
                self._recent.setdefault(place, deque(maxlen=self.recent_max)).append(event)
                for sub in list(self._subs.get(place, ())):
                    if len(sub.queue) >= self.queue_max:
                        sub.dropped = True
                        self.dropped += 1
                        self._remove(sub)
                    else:
                        sub.queue.append(event)
                    to_wake.append(sub)
        for sub in dict.fromkeys(to_wake):  # once each, in order, outside the lock
            _wake(sub)

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get((sub.city, sub.merchant), [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subs.pop((sub.city, sub.merchant), None)

    def watching(self, city: str, merchant: str) -> int:
        with self.lock:
            return len(self._subs.get((city, merchant), ()))


def _wake(sub: Subscription) -> None:
    try:
        sub.wake()
    except Exception:  # a closed event loop: the screen is gone; it reconnects if not
        log.debug("counter_wake_failed", merchant=sub.merchant)
