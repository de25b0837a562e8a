"""Arrivals taken into the line together: one transaction for every join that came
while the previous one was being written (group commit).

At an opening thousands join within seconds, each needing its place written durably
before it is shown. One transaction per arrival would queue them behind the disk's
flushes (and the ledger's own writes to the same store); the first arrival to find
nobody writing writes the whole waiting group at once, the others wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[R]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """`add(item)` returns `flush(items)[i]` for its item, flushed with whoever else is
    waiting; `flush` gets each batch in arrival order and returns one result per item."""

    def __init__(self, flush: Callable[[Sequence[T]], Sequence[R]]) -> None:
        self.flush = flush
        self._lock = threading.Lock()
        self._pending: list[tuple[T, _Slot[R]]] = []
        self._writing = False

    def add(self, item: T) -> R:
        slot: _Slot[R] = _Slot()
        with self._lock:
            self._pending.append((item, slot))
            lead = not self._writing
            self._writing = True
        if lead:
            self._write_all()
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.value is not None
        return slot.value

    def _write_all(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._writing = False
                    return
            try:
                results = self.flush([item for item, _ in batch])
                for (_, slot), result in zip(batch, results, strict=True):
                    slot.value = result
            except BaseException as exc:  # each waiter of this batch hears of it
                for _, slot in batch:
                    slot.error = exc
            finally:
                for _, slot in batch:
                    slot.done.set()
