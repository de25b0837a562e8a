"""The sequencer's hand-offs between its threads, and the commands in its hands.

Every submitted command has one owner at a time (the intake, a stage, a channel, the
in-flight entry its duplicate waits on), and that owner answers it: these are the
things that own commands, and the two ways an owner answers one it cannot finish.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

from localpay.domain.commands import Command, Envelope
from localpay.ledger.blocks import TxRecord
from localpay.ledger.receipt import Receipt, SequencerStopped
from localpay.ledger.results import Result
from localpay.ledger.tickets import Ticket

T = TypeVar("T")


class Inflight:
    """A command sequenced but not yet durable: its exact envelope, and who waits on it."""

    __slots__ = ("envelope", "waiters")

    def __init__(self, envelope: bytes) -> None:
        self.envelope = envelope
        self.waiters: list[Ticket[Receipt]] = []


class Channel(Generic[T]):
    """A bounded hand-off from one stage to the next, which a failure can close.

    A queue.Queue leaves a producer blocked forever once its consumer died. Closing
    this one wakes both sides: put() then refuses (the producer still owns its item
    and answers it) and close() returns what was inside for the closer to answer."""

    def __init__(self, size: int) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._size = size
        self._changed = threading.Condition()
        self._ended = False
        self._closed = False

    def put(self, item: T) -> bool:
        with self._changed:
            while len(self._items) >= self._size and not self._closed:
                self._changed.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def get(self, wait: bool = True) -> T | None:
        """The next item; None once closed, or ended and empty (without wait: if empty)."""
        with self._changed:
            while wait and not self._items and not (self._ended or self._closed):
                self._changed.wait()
            if self._closed or not self._items:
                return None
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def end(self) -> None:
        """The producer is done: the consumer takes what is left, then stops."""
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def close(self) -> list[T]:
        """Refuse every further put and get; what was still inside, for the caller."""
        with self._changed:
            self._closed = True
            items = list(self._items)
            self._items.clear()
            self._changed.notify_all()
            return items


class BlockDraft:
    """Transactions of the block being built, with who waits for each."""

    __slots__ = ("pending", "results", "touched", "txs")

    def __init__(self) -> None:
        self.txs: list[TxRecord] = []
        self.pending: list[Pending] = []
        self.results: list[Result] = []
        self.touched: dict[str, None] = {}

    def add(self, tx: TxRecord, pending: Pending, result: Result) -> None:
        self.txs.append(tx)
        self.pending.append(pending)
        self.results.append(result)


class Pending:
    __slots__ = ("command", "data", "envelope", "future", "handed")

    def __init__(self, data: bytes, future: Ticket[Receipt]) -> None:
        self.data = data
        self.future = future
        self.envelope: Envelope | None = None
        self.command: Command | None = None
        # The builder gave this command's answer to someone else: a sealed block (the
        # committer) or the in-flight original it duplicates.
        self.handed = False


def answer_stopped(pendings: Sequence[Pending], why: str, skip_handed: bool = False) -> None:
    """Answer SequencerStopped (retry) to every command here that has no answer yet."""
    for pending in pendings:
        if not pending.future.done() and not (skip_handed and pending.handed):
            pending.future.set_exception(SequencerStopped(why))


def reject(pending: Pending, tx_id: str, code: str, message: str) -> None:
    pending.future.set_result(Receipt(id=tx_id, code=code, message=message))
