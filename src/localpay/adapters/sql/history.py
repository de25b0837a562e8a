"""The history index (tx_parties) behind services/history/ports.py.

One query text for both stores but the bulk insert: PostgreSQL takes a whole batch
as two arrays in one statement (a catch-up writes tens of thousands of pairs), SQLite
runs one statement per pair in one transaction, which costs it little.
"""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql import queries as q
from localpay.adapters.sql.runner import SqlRunner
from localpay.adapters.sql.tx_private import tx_record
from localpay.ledger.blocks import TxRecord

_ADD: Final = "INSERT INTO tx_parties (city, account, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_ADD_ARRAYS: Final = (
    "INSERT INTO tx_parties (city, account, seq) SELECT ?, a, s FROM"
    " unnest(?::text[], ?::bigint[]) AS u(a, s) ON CONFLICT DO NOTHING"
)
_HIGH_WATER: Final = "SELECT max(seq) FROM tx_parties WHERE city = ?"
_ACCOUNT_TXS: Final = (
    f"SELECT {', '.join('t.' + c for c in q.TX_COLUMNS.split(', '))} FROM tx_parties p"
    " JOIN txs t ON t.city = p.city AND t.seq = p.seq"
    " WHERE p.city = ? AND p.account = ? AND p.seq < ? ORDER BY p.seq DESC LIMIT ?"
)


class SqlHistoryIndex:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add_parties(self, city: str, rows: list[tuple[str, int]]) -> None:
        """Index (account, seq) pairs; repeats are ignored (the index is rebuildable)."""
        if not rows:
            return
        if self.store.dialect == "postgres":
            accounts, seqs = [a for a, _ in rows], [s for _, s in rows]
            self.store.sql(_ADD_ARRAYS, (city, accounts, seqs))
        else:
            self.store.sql_batch([(_ADD, (city, account, seq)) for account, seq in rows])

    def high_water(self, city: str) -> int:
        rows = self.store.sql(_HIGH_WATER, (city,))
        return -1 if not rows or rows[0][0] is None else int(rows[0][0])

    def account_txs(
        self, city: str, account: str, before: int | None, limit: int
    ) -> list[TxRecord]:
        bound = before if before is not None else q.NO_END
        rows = self.store.sql(_ACCOUNT_TXS, (city, account, bound, limit))
        return [tx_record(r) for r in rows]
