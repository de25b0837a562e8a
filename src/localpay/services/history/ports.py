"""What the history index needs from storage beyond the chain: the (account, seq) index.

Derived data, rebuildable from the chain (the history service catches it up from the
transactions), so it is not part of the ledger's chain store.
"""

from __future__ import annotations

from typing import Protocol

from localpay.ledger.blocks import TxRecord


class HistoryIndex(Protocol):
    def add_parties(self, city: str, rows: list[tuple[str, int]]) -> None:
        """Index (account, seq) pairs; a pair already there is ignored."""
        ...

    def high_water(self, city: str) -> int:
        """The highest seq indexed for the city, -1 if none."""
        ...

    def account_txs(
        self, city: str, account: str, before: int | None, limit: int
    ) -> list[TxRecord]:
        """An account's transactions, newest first, with seq < before."""
        ...
