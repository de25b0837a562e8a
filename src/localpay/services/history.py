"""The history index: which transactions concern which account.

Derived data, kept off the sequencer's commit path: block observers hand each
block's (account, seq) pairs to a background thread that writes them in large
batches. On start it catches up from the transactions table, so the index is
complete whatever happened to the process; a history may lag the chain by up to
FLUSH_SECONDS.
"""

from __future__ import annotations

import threading
from typing import Final

from localpay.domain.commands import DecodeError, Refund, decode_envelope
from localpay.ledger.blocks import BlockRecord
from localpay.ledger.results import Result
from localpay.ledger.store import Store

FLUSH_SECONDS: Final = 0.5
CATCH_UP_PAGE: Final = 10_000


def parties_of(store: Store, city: str, envelope: bytes) -> list[str]:
    """The accounts a stored command concerns (a refund: the payer too)."""
    try:
        _, command = decode_envelope(envelope)
    except DecodeError:
        return []
    named = [str(getattr(command, f)) for f in ("wallet", "merchant", "to") if hasattr(command, f)]
    if isinstance(command, Refund):
        payment = store.find_tx(city, command.payment)
        if payment is not None:
            named += parties_of(store, city, payment.envelope)[:1]
    return list(dict.fromkeys(named))


class HistoryIndexer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: dict[str, list[tuple[str, int]]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="history", daemon=True)

    def start(self, cities: list[str]) -> HistoryIndexer:
        for city in cities:
            self.catch_up(city)
        self.thread.start()
        return self

    def catch_up(self, city: str) -> int:
        """Index every transaction past the high-water mark; returns how many."""
        done = 0
        start = self.store.parties_high_water(city) + 1
        while True:
            rows = []
            last = start - 1
            for tx in self.store.txs(city, start, start + CATCH_UP_PAGE):
                rows += [(party, tx.seq) for party in parties_of(self.store, city, tx.envelope)]
                last = tx.seq
            if last < start:
                return done
            self.store.add_parties(city, rows)
            done += last - start + 1
            start = last + 1

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        rows = [(party, tx.seq) for tx in block.txs for party in tx.parties]
        with self.lock:
            self.pending.setdefault(city, []).extend(rows)

    def _run(self) -> None:
        while not self.stop.wait(FLUSH_SECONDS):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self.lock:
            batches, self.pending = self.pending, {}
        for city, rows in batches.items():
            self.store.add_parties(city, rows)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
