"""The explorer's figures, kept up to date by a block observer and caught up at start.

Reads the chain only: each applied transaction's command and recorded result. Which
program paid for a payment comes from the lots its result names (`lots`: [lot, won]):
a credit's lot has the credit's id and program (a batch row's, its batch's program; a
purchase's lots `<order>` and `<order>.d`, the order's program; a cashback's, its own);
a gift's lot (`<transfer id>.<n>`)
keeps the program of the money given, which the result does not name, so it is read
from the payment's own record (state `x:<payment id>`, its draws name their programs)
or the receiving wallet's lots (`w:<wallet>`) — from the block's state changes when
observing, from the store at catch-up. A lot found nowhere (a long-retired payment
of a since-spent gift) counts under UNKNOWN_PROGRAM.

Blocks the observer missed (a sequencer restarted, blocks written by another process)
show as a gap in `seq` at the next block it sees, and are read from the store first.

Start-up reads the whole chain once: about 45 µs a transaction on SQLite (1,868 in
0.08 s), so a 2,000-citizen month is a second or two; millions want a stored index.

Memory (everything is in memory, rebuilt at each start): per city one entry per
merchant (its area), one per lot ever created (its program) and one per day with
payments (a cell per program and per area). A city of 200 shops and 2,000 citizens
over a year is well under 10 MB; a city with millions of credits wants this index in
the store instead (a later issue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import msgspec

from localpay.domain import commands as c
from localpay.domain.calendar import iso_date
from localpay.domain.commands import DecodeError, decode_envelope
from localpay.ledger.blocks import BlockRecord, TxRecord, decode_header
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.state import Payment, Wallet
from localpay.services.explorer.aggregate import (
    SMALL_CELL,
    Day,
    SupplyPoint,
    Table,
    payment_table,
    supply_series,
)

#: The program of a lot the explorer could not trace.
UNKNOWN_PROGRAM: Final = "?"
#: Blocks read per page at catch-up.
CATCH_UP_BLOCKS: Final = 500
#: Committed blocks kept per city for the next read of the figures. Past it a block is
#: not kept: the next read finds the gap and reads those blocks from the store.
PENDING_BLOCKS_MAX: Final = 256

#: Reads one state row ("x:<id>", "w:<id>") for tracing a gift lot's program.
StateRow = Callable[[str], bytes | None]


@dataclass
class _Book:
    """One city's figures, and what reading its chain needs to remember."""

    seen: int = -1  # the last seq applied
    areas: dict[str, str] = field(default_factory=dict)  # merchant -> area label
    lots: dict[str, str] = field(default_factory=dict)  # lot id -> program
    batches: dict[str, str] = field(default_factory=dict)  # batch -> program
    # order id -> (program, discount booked): the deposit and a cancellation need them.
    orders: dict[str, tuple[str, int]] = field(default_factory=dict)
    days: dict[str, Day] = field(default_factory=dict)  # "YYYY-MM-DD" (KST) -> figures

    def day(self, time_ms: int) -> Day:
        return self.days.setdefault(iso_date(time_ms), Day())


def apply_tx(book: _Book, tx: TxRecord, time_ms: int, row: StateRow) -> None:
    """Add one stored transaction to the book (a rejected one changes nothing)."""
    if tx.seq <= book.seen:
        return
    book.seen = tx.seq
    result = msgspec.json.decode(tx.result, type=Result)
    if not result.ok:
        return
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return
    match command:
        case c.RegisterMerchant():
            book.areas[command.merchant] = command.area
        case c.Credit():
            book.lots[command.id] = command.program
        case c.ApproveBatch():
            book.batches[command.batch] = command.program
        case c.BatchCredit():
            book.lots[command.id] = book.batches.get(command.batch, UNKNOWN_PROGRAM)
        case c.OrderPurchase() | c.ConfirmPurchase() | c.CancelPurchase() | c.Cashback():
            _sale_tx(book, book.day(time_ms), command, result)
        case c.Mint():
            book.day(time_ms).minted += command.amount
        case c.Redeem():
            book.day(time_ms).burned += command.amount
        case c.SettlePayout():  # the bank booked a payout: its units are burned
            book.day(time_ms).burned += sum(amount for _, amount in result.lots or ())
        case c.ReturnPayout():  # a booked payout sent back: its units made again
            book.day(time_ms).minted += sum(amount for _, amount in result.lots or ())
        case c.Transfer():
            _learn_gifts(book, result, row(f"w:{command.to}"))
        case c.Pay() | c.ClaimCode() | c.Capture() | c.Hold():
            # Every channel's payment: a QR or app payment, a claimed one-time code, a
            # captured hold (card or checkout; its record has the hold's id), a card
            # purchase captured at once. A hold not captured yet is no payment.
            payment = command.hold if isinstance(command, c.Capture) else command.id
            if isinstance(command, c.Hold) and not command.capture:
                return
            drawn = _programs_drawn(book, payment, result, row)
            area = book.areas.get(command.merchant, UNKNOWN_PROGRAM)
            book.day(time_ms).add_payment(area, drawn)


def _sale_tx(
    book: _Book,
    day: Day,
    command: c.OrderPurchase | c.ConfirmPurchase | c.CancelPurchase | c.Cashback,
    result: Result,
) -> None:
    """What a sale's commands add: the orders' programs, the won sold and the discounts
    paid (less a cancellation's). A lapse, a balance refund or an expiry into won owed
    back changes neither the supply nor these figures (payouts burn when paid)."""
    won = sum(amount for _, amount in result.lots or ())
    match command:
        case c.OrderPurchase():
            book.orders[command.id] = (command.program, 0)
        case c.ConfirmPurchase():
            _book_purchase(book, day, command, result)
        case c.CancelPurchase():
            _, bonus = book.orders.get(command.purchase, (UNKNOWN_PROGRAM, 0))
            day.sold -= won
            day.discounts -= bonus
        case c.Cashback():
            book.lots[command.id] = command.program
            day.discounts += won


def _book_purchase(book: _Book, day: Day, command: c.ConfirmPurchase, result: Result) -> None:
    """A deposit: its won are minted, as a purchase (its lot and its discount lot), or,
    for a late order that no longer fit, straight into won owed back (its lot is 0)."""
    day.minted += command.amount
    program, _ = book.orders.get(command.order, (UNKNOWN_PROGRAM, 0))
    lots = result.lots or []
    book.lots.update({lot: program for lot, _ in lots})
    if lots and lots[0][1]:
        bonus = sum(amount for _, amount in lots[1:])
        book.orders[command.order] = (program, bonus)
        day.sold += command.amount
        day.discounts += bonus


def _learn_gifts(book: _Book, result: Result, wallet_row: bytes | None) -> None:
    new = [lot for lot, _ in result.lots or () if lot not in book.lots]
    if not new or wallet_row is None:
        return
    held = {lot.id: lot.program for lot in msgspec.json.decode(wallet_row, type=Wallet).lots}
    book.lots.update({lot: held[lot] for lot in new if lot in held})


def _programs_drawn(book: _Book, pay_id: str, result: Result, row: StateRow) -> dict[str, int]:
    lots = result.lots or []
    if any(lot not in book.lots for lot, _ in lots):
        record = row(f"x:{pay_id}")
        if record is not None:
            draws = msgspec.json.decode(record, type=Payment).draws
            book.lots.update({d.lot: d.program for d in draws})
    drawn: dict[str, int] = {}
    for lot, amount in lots:
        program = book.lots.get(lot, UNKNOWN_PROGRAM)
        drawn[program] = drawn.get(program, 0) + amount
    return drawn


class Explorer:
    """Per-city supply and payment aggregates; a block observer (ledgers.observers)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._books: dict[str, _Book] = {}
        self._lock = threading.Lock()
        # Blocks handed over by the sequencers, added to the books when figures are read:
        # the commit path only appends here (its own lock, never held while computing).
        self._pending: dict[str, list[BlockRecord]] = {}
        self._behind: set[str] = set()
        self._pending_lock = threading.Lock()

    def start(self, cities: Iterable[str]) -> Explorer:
        for city in cities:
            self.catch_up(city)
        return self

    def catch_up(self, city: str) -> None:
        """Read every block the book has not seen from the store."""
        with self._lock:
            self._catch_up(city, self._books.setdefault(city, _Book()))

    def _catch_up(self, city: str, book: _Book) -> None:
        head = self.store.head(city)
        if head is None:
            return
        start = 0
        while start <= head.height:
            end = min(start + CATCH_UP_BLOCKS, head.height + 1)
            headers = [decode_header(b.header_bytes) for b in self.store.blocks(city, start, end)]
            start = end
            if headers[-1].log_size <= book.seen + 1:
                continue  # seen already
            first = headers[0].log_size - headers[0].tx_count
            when = {h.height: h.time_ms for h in headers}
            for tx in self.store.txs(city, max(first, book.seen + 1), headers[-1].log_size):
                apply_tx(book, tx, when[tx.height], lambda k: self.store.state_value(city, k))

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        """A committed block, kept for the next read of the figures: the sequencer's
        commit path only hands it over (a public page must not slow the ledger)."""
        with self._pending_lock:
            pending = self._pending.setdefault(city, [])
            if len(pending) < PENDING_BLOCKS_MAX:
                pending.append(block)
            else:
                self._behind.add(city)

    def _bring_up_to_date(self, city: str) -> _Book:
        """Add the blocks handed over since the last read (with the state rows each wrote);
        blocks this observer did not see (a restarted sequencer, a city imported while
        serving, blocks past PENDING_BLOCKS_MAX) come from the store. Under self._lock."""
        with self._pending_lock:
            blocks = self._pending.pop(city, [])
            behind = city in self._behind
            self._behind.discard(city)
        book = self._books.setdefault(city, _Book())
        for block in blocks:
            if block.txs and block.txs[0].seq > book.seen + 1:
                self._catch_up(city, book)
            rows = dict(block.state)
            for tx in block.txs:
                apply_tx(book, tx, block.header.time_ms, rows.get)  # skips what it has seen
        if behind:
            self._catch_up(city, book)
        return book

    # -- the figures -------------------------------------------------------------------

    def supply(self, city: str) -> list[SupplyPoint]:
        with self._lock:
            return supply_series(self._bring_up_to_date(city).days)

    def payments(self, city: str, by: str, last: int = 31, threshold: int = SMALL_CELL) -> Table:
        """Daily payments by "program" or "area", small cells suppressed."""
        with self._lock:
            return payment_table(self._bring_up_to_date(city).days, by, last, threshold)
