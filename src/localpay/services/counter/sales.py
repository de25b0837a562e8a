"""What the counter screen reads: today's payments and refunds of a merchant (KST), the
day's totals, and the merchant's payouts; from the merchant's history index, merged with
the live hub's recent events (the index lags the chain by up to a second) and with any
transaction just made (its block is durable before the index has it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

import msgspec

from localpay.domain.calendar import DAY_MS, KST_OFFSET_MS, day_key
from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.state import Payment
from localpay.services.counter.live import LiveTx, live_tx
from localpay.services.history.ports import HistoryIndex

#: Rows read from the history per query.
PAGE: Final = 200
#: A day's transactions counted at most (a counter, not a report: beyond, say "more").
DAY_MAX: Final = 5_000
#: Block times kept in memory per process (a block's time never changes).
TIMES_MAX: Final = 4_096


@dataclass(frozen=True)
class Sales:
    """A day's takings: payments (count, gross), refunds (count, total), net."""

    payments: int
    gross: int
    refunds: int
    refunded: int
    complete: bool  # False when the day had more than DAY_MAX transactions

    @property
    def net(self) -> int:
        return self.gross - self.refunded


class BlockTimes:
    """Block times by height, and the first block of a KST day, cached (both immutable
    once a block exists)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._times: dict[tuple[str, int], int] = {}
        self._day_starts: dict[tuple[str, int], int] = {}

    def time_ms(self, city: str, height: int) -> int:
        place = (city, height)
        found = self._times.get(place)
        if found is None:
            found = self._read(city, height)
            if len(self._times) >= TIMES_MAX:
                self._times.clear()
            self._times[place] = found
        return found

    def _read(self, city: str, height: int) -> int:
        for block in self.store.blocks(city, height, height + 1):
            return msgspec.json.decode(block.header_bytes, type=BlockHeader).time_ms
        raise LookupError(f"no block {height} in city {city!r}")

    def first_height_of_day(self, city: str, now_ms: int) -> int:
        """The height of the first block sealed on `now_ms`'s KST day (head + 1 if none
        yet): block times never go back, so a binary search over heights finds it."""
        day = day_key(now_ms)
        cached = self._day_starts.get((city, day))
        if cached is not None:
            return cached
        head = self.store.head(city)
        if head is None:
            return 0
        start_ms = day * DAY_MS - KST_OFFSET_MS
        low, high = 0, head.height + 1
        while low < high:
            middle = (low + high) // 2
            if self.time_ms(city, middle) >= start_ms:
                high = middle
            else:
                low = middle + 1
        if low <= head.height:  # a block of today exists: the answer is final
            self._day_starts[(city, day)] = low
        return low


def _account_txs(history: HistoryIndex, city: str, account: str, limit: int) -> Iterator[TxRecord]:
    before = None
    seen = 0
    while seen < limit:
        rows = history.account_txs(city, account, before, min(PAGE, limit - seen))
        yield from rows
        seen += len(rows)
        if len(rows) < PAGE:
            return
        before = rows[-1].seq


def today(
    store: Store,
    history: HistoryIndex,
    times: BlockTimes,
    city: str,
    merchant: str,
    now_ms: int,
    also: Iterable[LiveTx] = (),
) -> tuple[list[LiveTx], bool]:
    """Today's payments and refunds of the merchant, newest first; and whether that is
    all of them (False past DAY_MAX). `also`: events the index may not have yet."""
    first = times.first_height_of_day(city, now_ms)
    found: dict[int, LiveTx] = {}
    complete = True
    for count, tx in enumerate(_account_txs(history, city, merchant, DAY_MAX + 1)):
        if tx.height < first:
            break
        if count >= DAY_MAX:
            complete = False
            break
        event = live_tx(tx, times.time_ms(city, tx.height), merchant)
        if event is not None:
            found[event.seq] = event
    start_ms = day_key(now_ms) * DAY_MS - KST_OFFSET_MS
    for event in also:
        if event.time_ms >= start_ms:
            found.setdefault(event.seq, event)
    return sorted(found.values(), key=lambda e: e.seq, reverse=True), complete


def sales_of(events: Iterable[LiveTx], complete: bool = True) -> Sales:
    pays = [e.amount for e in events if e.kind == "pay"]
    refunds = [e.amount for e in events if e.kind == "refund"]
    return Sales(len(pays), sum(pays), len(refunds), sum(refunds), complete)


def since(
    history: HistoryIndex,
    times: BlockTimes,
    city: str,
    merchant: str,
    after: int,
    limit: int = PAGE,
) -> list[LiveTx]:
    """The merchant's payments and refunds after seq `after`, oldest first (a screen
    resuming); at most `limit` (the newest), older ones it reloads the page for."""
    found = []
    for tx in _account_txs(history, city, merchant, limit):
        if tx.seq <= after:
            break
        event = live_tx(tx, times.time_ms(city, tx.height), merchant)
        if event is not None:
            found.append(event)
    return found[::-1]


def just_made(
    store: Store, times: BlockTimes, city: str, merchant: str, tx_id: str
) -> list[LiveTx]:
    """The event of a transaction this process just committed, if it is one of ours."""
    tx = store.find_tx(city, tx_id)
    event = live_tx(tx, times.time_ms(city, tx.height), merchant) if tx is not None else None
    return [event] if event is not None else []


def payment(store: Store, city: str, merchant: str, payment_id: str) -> Payment | None:
    """The payment's record (amount, refunded so far), if it is this merchant's and still
    inside its refund window (the ledger retires records after it)."""
    raw = store.state_value(city, f"x:{payment_id}")
    if raw is None:
        return None
    found = msgspec.json.decode(raw, type=Payment)
    return found if found.merchant == merchant else None
