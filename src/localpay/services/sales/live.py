"""The live remaining budget of each sale program: a block observer that, after each
block holding a command that can change a budget, reads the programs' budgets from
the sequencer's state (the observer runs on the sequencer's thread, so the state is
consistent there) and wakes the pages watching a program whose budget changed.

Nothing here knows about asyncio: a watcher gives a `wake` callable (the SSE route
passes one that wakes its event loop) and reads `budget()` when woken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import structlog

from localpay.ledger.blocks import BlockRecord
from localpay.ledger.results import Result
from localpay.services.cities.ledgers import Ledgers

#: Commands that move a program's budget (or its discounts held for orders).
BUDGET_KINDS: Final = frozenset(
    {
        "order_purchase",
        "confirm_purchase",
        "lapse_order",
        "cancel_purchase",
        "refund_balance",
        "cashback",
        "mint",
        "credit",
        "batch_credit",
        "expire",
    }
)
WATCHERS_MAX: Final = 10_000

log = structlog.get_logger("localpay.sales")


@dataclass(frozen=True)
class Budget:
    program: str
    budget: int
    reserved: int
    seq: int  # how many changes this hub has seen of it (an SSE event id)


@dataclass(eq=False)
class Watcher:
    city: str
    program: str
    wake: Callable[[], None]
    closed: bool = False


@dataclass
class LiveBudgets:
    """Register on `ledgers.observers`; `watch` a program's budget."""

    ledgers: Ledgers
    lock: threading.Lock = field(default_factory=threading.Lock)
    _latest: dict[tuple[str, str], Budget] = field(default_factory=dict)
    _watchers: dict[tuple[str, str], list[Watcher]] = field(default_factory=dict)

    def budget(self, city: str, program: str) -> Budget | None:
        with self.lock:
            found = self._latest.get((city, program))
        return found or self._read(city, program)

    def current(self, city: str, program: str) -> Budget | None:
        """The budget read from the running sequencer's state now, not the last published:
        a stream checks it at each keep-alive, so a wake it missed costs one keep-alive."""
        sequencer = self.ledgers.running_sequencer(city)
        found = sequencer.state.programs.get(program) if sequencer is not None else None
        if found is None:
            return self.budget(city, program)
        return Budget(program, found.budget, found.reserved, 0)

    def _read(self, city: str, program: str) -> Budget | None:
        found = self.ledgers.sequencer(city).state.programs.get(program)
        if found is None:
            return None
        budget = Budget(program, found.budget, found.reserved, 0)
        with self.lock:
            return self._latest.setdefault((city, program), budget)

    def watch(self, city: str, program: str, wake: Callable[[], None]) -> Watcher:
        watcher = Watcher(city, program, wake)
        with self.lock:
            if sum(len(w) for w in self._watchers.values()) >= WATCHERS_MAX:
                raise OverflowError("too many pages watch the sale budgets")
            self._watchers.setdefault((city, program), []).append(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            watcher.closed = True
            found = self._watchers.get((watcher.city, watcher.program), [])
            if watcher in found:
                found.remove(watcher)

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        try:
            if any(tx.kind in BUDGET_KINDS for tx in block.txs):
                self._publish(city)
        except Exception:  # an observer must never break the sequencer
            log.exception("sale_budget_observer_failed", city=city)

    def _publish(self, city: str) -> None:
        sequencer = self.ledgers.running_sequencer(city)  # never start one from here
        if sequencer is None:
            return
        programs = sequencer.state.programs
        woken: list[Watcher] = []
        with self.lock:
            for program_id, program in programs.items():
                if program.versions[-1].sale is None:
                    continue
                place = (city, program_id)
                old = self._latest.get(place)
                if old and (old.budget, old.reserved) == (program.budget, program.reserved):
                    continue
                seq = old.seq + 1 if old else 1
                self._latest[place] = Budget(program_id, program.budget, program.reserved, seq)
                woken += self._watchers.get(place, ())
        for watcher in woken:
            try:
                watcher.wake()
            except Exception:  # a closed event loop: that page is gone
                log.debug("sale_budget_wake_failed", program=watcher.program)
