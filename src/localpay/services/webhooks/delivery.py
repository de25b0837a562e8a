"""Delivering a city's events to its subscriptions, in log order, from each cursor.

The chain is the outbox: a tick reads the transactions after the lowest cursor of the
subscriptions that are due, derives the events once (events.py), and POSTs each
subscription the ones it wants, in order. A 2xx moves the cursor past the event; any
other answer (or none) stops that subscription where it is: the same event is tried
again after the backoff (BACKOFF_MS), and no later event goes before it. Once the
schedule is used up the subscription is `failing` and is tried every BACKOFF_MS[-1].

Every POST is in the delivery log. The cursor moves by compare-and-set: a replay that
moved it meanwhile wins, and this tick stops for that subscription.

At least once: a crash between the 2xx and the cursor's move sends that event again,
with the same `webhook-id` (the receiver deduplicates on it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Final

from localpay.domain.errors import Unavailable
from localpay.services.webhooks import signing
from localpay.services.webhooks.chain import ChainReader
from localpay.services.webhooks.events import Event
from localpay.services.webhooks.ports import (
    ACTIVE,
    FAILING,
    Attempt,
    Sealer,
    Sender,
    Sent,
    Subscription,
    WebhookRepository,
    secret_context,
)

#: Waits after the 1st, 2nd, ... failed try of an event; the last is the cap.
BACKOFF_MS: Final = (5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000)
#: Transactions read per page of a tick, and pages per city per tick (the rest: next tick).
PAGE: Final = 500
PAGES_PER_TICK: Final = 20
ERROR_MAX: Final = 200
#: Endpoints delivered to at once: a slow or unreachable shop's endpoint (up to the
#: sender's timeout per try) holds up no other shop's. Each endpoint's own events still
#: go one after another, in order.
PARALLEL: Final = 8


@dataclass
class Tally:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # transactions that were no event for a subscription

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.skipped += other.skipped


class Poster:
    """Signs and POSTs one event to one subscription, and logs the attempt."""

    def __init__(
        self,
        repo: WebhookRepository,
        master: Sealer,
        sender: Sender,
        clock: Callable[[], int],
    ) -> None:
        self.repo = repo
        self.master = master
        self.sender = sender
        self.clock = clock

    def keys(self, sub: Subscription, now_ms: int) -> list[str]:
        """The secrets that sign now: the current one, and the old one while it overlaps."""
        context = secret_context(sub.city, sub.id)
        keys = [self.master.open(sub.secret_sealed, context).decode()]
        if sub.previous_sealed is not None and now_ms < sub.previous_until_ms:
            keys.append(self.master.open(sub.previous_sealed, context).decode())
        return keys

    def post(
        self, sub: Subscription, event_id: str, kind: str, seq: int, body: bytes, number: int,
        replay: bool = False,
    ) -> Attempt:  # fmt: skip
        now = self.clock()
        try:
            keys = self.keys(sub, now)
        except Unavailable as exc:  # a seal under another master key: never send unsigned
            sent = Sent(None, f"signing secret unavailable: {exc}", 0)
        else:
            sent = self.sender.post(sub.url, body, signing.headers(event_id, body, keys, now))
        done = Attempt(
            sub.city, sub.id, event_id, kind, seq, number, sent.status_code,
            sent.error[:ERROR_MAX], sent.duration_ms, now, replay,
        )  # fmt: skip
        self.repo.log([done])
        return done

    def event(self, sub: Subscription, event: Event, number: int, replay: bool = False) -> Attempt:
        return self.post(sub, event.id, event.type, event.seq, event.body(), number, replay)


def wanted(sub: Subscription, event: Event | None) -> bool:
    return (
        event is not None
        and event.merchant == sub.merchant
        and (not sub.types or event.type in sub.types)
    )


def next_try(attempts: int, backoff: Sequence[int]) -> tuple[int, str]:
    """(wait in ms, status) after the `attempts`th failed try of an event."""
    wait = backoff[min(attempts, len(backoff)) - 1]
    return wait, FAILING if attempts > len(backoff) else ACTIVE


def describe(attempt: Attempt) -> str:
    if attempt.status_code is None:
        return attempt.error or "no answer"
    return f"HTTP {attempt.status_code}"


class Deliverer:
    def __init__(
        self,
        repo: WebhookRepository,
        reader: ChainReader,
        poster: Poster,
        clock: Callable[[], int],
        backoff: Sequence[int] = BACKOFF_MS,
    ) -> None:
        self.repo = repo
        self.reader = reader
        self.poster = poster
        self.clock = clock
        self.backoff = tuple(backoff)
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="localpay-webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def tick(self) -> Tally:
        """Deliver whatever is due now, for every city with subscriptions."""
        tally = Tally()
        for city in self.repo.cities():
            for _ in range(PAGES_PER_TICK):
                if not self._round(city, tally):
                    break
        return tally

    def _round(self, city: str, tally: Tally) -> bool:
        """One page for the due subscriptions of a city; True if another page may have
        more for them (a subscription reached the page's end)."""
        now = self.clock()
        due = [s for s in self.repo.of_city(city) if s.next_ms <= now]
        if not due:
            return False
        start = min(s.cursor for s in due) + 1
        page = self.reader.page(city, start, PAGE)
        if not page:
            return False
        more = False
        for reached_end, done in self._pool.map(lambda s: self._subscription(s, page), due):
            tally.add(done)
            more |= reached_end and len(page) == PAGE
        return more

    def _subscription(
        self, sub: Subscription, page: list[tuple[int, Event | None]]
    ) -> tuple[bool, Tally]:
        """Deliver the page's events to one subscription; (it got to the end, counts)."""
        tally = Tally()
        return self._deliver(sub, page, tally), tally

    def _deliver(
        self, sub: Subscription, page: list[tuple[int, Event | None]], tally: Tally
    ) -> bool:
        cursor, attempts = sub.cursor, sub.attempts
        for seq, event in page:
            if seq <= cursor:
                continue
            if event is None or not wanted(sub, event):
                cursor = seq
                tally.skipped += 1
                continue
            done = self.poster.event(sub, event, attempts + 1)
            if done.status_code is not None and 200 <= done.status_code < 300:
                if not self.repo.advance(sub.city, sub.id, sub.cursor, seq, done.at_ms):
                    return False  # a replay moved the cursor: it is read again next tick
                sub = replace(sub, cursor=seq, attempts=0)
                cursor, attempts = seq, 0
                tally.delivered += 1
                continue
            tally.failed += 1
            wait, status = next_try(attempts + 1, self.backoff)
            self.repo.failed(
                sub.city, sub.id, sub.cursor, cursor, attempts + 1, done.at_ms + wait, status,
                describe(done),
            )  # fmt: skip
            return False
        if cursor != sub.cursor:
            self.repo.advance(sub.city, sub.id, sub.cursor, cursor, None)
        return True
