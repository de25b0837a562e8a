"""The history index: which transactions concern which account.

Derived data, kept off the sequencer's commit path: block observers hand each
block's (account, seq) pairs to a background thread that writes them in large
batches. On start it catches up from the transactions table, so the index is
complete whatever happened to the process; a history may lag the chain by up to
FLUSH_SECONDS.

Which accounts: every party of an applied command; of a rejection only its sender's
(ledger/privacy.py), so a refused command someone sends naming another's wallet never
shows in that wallet's history. The sequencer stores that list with each transaction;
catch-up reads it back, and derives it the same way only for rows stored without it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Final

import msgspec

from localpay.domain.commands import DecodeError, Pay, Refund, decode_envelope
from localpay.ledger import machine, privacy
from localpay.ledger.blocks import BlockRecord, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.services.history.ports import HistoryIndex

FLUSH_SECONDS: Final = 0.5
CATCH_UP_PAGE: Final = 10_000


class _Keys(msgspec.Struct):
    keys: list[str] = []
    cards: dict[str, str] = {}  # a wallet's bound card keys act for it (ledger/privacy.py)


def parties_of(store: Store, city: str, tx: TxRecord) -> list[str]:
    """The accounts whose histories list a stored transaction: as the sequencer stored
    them, or else derived like it did (ledger/privacy.py)."""
    if tx.parties is not None:
        return list(tx.parties)
    try:
        envelope, command = decode_envelope(tx.envelope)
    except DecodeError:
        return []
    payment = store.find_tx(city, command.payment) if isinstance(command, Refund) else None
    named = machine.accounts_of(command, _payer(payment) if payment is not None else None)
    sender = privacy.sender(command, [s.key for s in envelope.sigs], _stored_keys(store, city))
    ok = tx.decoded_result().ok
    return list(privacy.history_parties(list(named), sender, ok))


def _payer(payment: TxRecord) -> str | None:
    try:
        _, command = decode_envelope(payment.envelope)
    except DecodeError:
        return None
    return command.wallet if isinstance(command, Pay) else None


def _stored_keys(store: Store, city: str) -> privacy.KeysOf:
    def keys_of(entity: str) -> Collection[str]:
        raw = store.state_value(city, entity)
        if raw is None:
            return ()
        found = msgspec.json.decode(raw, type=_Keys)
        return [*found.keys, *found.cards.values()]

    return keys_of


class HistoryIndexer:
    def __init__(self, store: Store, index: HistoryIndex) -> None:
        self.store = store
        self.index = index
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
        start = self.index.high_water(city) + 1
        while True:
            rows = []
            last = start - 1
            for tx in self.store.txs(city, start, start + CATCH_UP_PAGE):
                rows += [(party, tx.seq) for party in parties_of(self.store, city, tx)]
                last = tx.seq
            if last < start:
                return done
            self.index.add_parties(city, rows)
            done += last - start + 1
            start = last + 1

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        rows = [(party, tx.seq) for tx in block.txs for party in tx.parties or ()]
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
            self.index.add_parties(city, rows)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
