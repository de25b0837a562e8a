"""The chain store's queries, written once for both stores over queries.py.

A store supplies `_rows` (one read, qmark text) and `sql`/`sql_batch` (its runner,
for the writes here); the rest is the same on SQLite and PostgreSQL. Every iterating read
goes by keyset pages of `page_rows`, so memory stays bounded and a caller may
write between two pages (a sequencer reading its ids, a verifier its blocks).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import msgspec

from localpay.adapters.sql import queries as q
from localpay.adapters.sql.runner import Row, Statement
from localpay.adapters.sql.tx_private import tx_record
from localpay.ledger.blocks import BlockRecord, TxRecord
from localpay.ledger.ports import StoredBlock


def frontier_bytes(hashes: list[bytes]) -> bytes:
    return msgspec.json.encode([h.hex() for h in hashes])


def block_row(city: str, block: BlockRecord) -> tuple[object, ...]:
    """The parameters of q.INSERT_BLOCK for a block: the row `stored_block` reads back."""
    return (
        city,
        block.header.height,
        block.hash,
        block.header_bytes,
        block.signature,
        block.checkpoint,
        frontier_bytes(block.frontier),
    )


def _frontier(data: bytes) -> list[bytes]:
    return [bytes.fromhex(h) for h in msgspec.json.decode(data, type=list[str])]


def stored_block(row: Row) -> StoredBlock:
    height, header, block_hash, signature, note, frontier = row
    return StoredBlock(
        height, bytes(header), bytes(block_hash), bytes(signature), note, _frontier(bytes(frontier))
    )


class ChainQueries(abc.ABC):
    #: Rows fetched per query by the iterating reads (blocks, txs, state).
    page_rows: ClassVar[int] = 1000
    #: Ids fetched per query by tx_ids (a sequencer reads them all at start).
    id_page_rows: ClassVar[int] = 50_000
    #: The text of block_txs; a dialect may hint its planner.
    block_txs_query: ClassVar[str] = q.BLOCK_TXS

    @abc.abstractmethod
    def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        """One read, qmark placeholders: every row."""

    @abc.abstractmethod
    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """The store's runner: one statement in its own transaction."""

    @abc.abstractmethod
    def sql_batch(self, statements: list[Statement]) -> list[list[Row]]:
        """The store's runner: statements in one transaction."""

    def head(self, city: str) -> StoredBlock | None:
        rows = self._rows(q.HEAD, (city,))
        return stored_block(rows[0]) if rows else None

    def blocks(self, city: str, start: int = 0, end: int | None = None) -> Iterator[StoredBlock]:
        stop = q.NO_END if end is None else end
        while start < stop:
            rows = self._rows(q.BLOCKS_PAGE, (city, start, stop, self.page_rows))
            yield from map(stored_block, rows)
            if len(rows) < self.page_rows:
                return
            start = rows[-1][0] + 1

    def txs(self, city: str, start: int = 0, end: int | None = None) -> Iterator[TxRecord]:
        stop = q.NO_END if end is None else end
        while start < stop:
            rows = self._rows(q.TXS_PAGE, (city, start, stop, self.page_rows))
            yield from map(tx_record, rows)
            if len(rows) < self.page_rows:
                return
            start = rows[-1][0] + 1

    def block_txs(self, city: str, height: int) -> list[TxRecord]:
        return [tx_record(r) for r in self._rows(self.block_txs_query, (city, height))]

    def find_tx(self, city: str, tx_id: str) -> TxRecord | None:
        rows = self._rows(q.FIND_TX, (city, tx_id))
        return tx_record(rows[0]) if rows else None

    def tx_ids(self, city: str) -> Iterator[str]:
        """Every command id of the city, in no promised order."""
        rows = self._rows(q.TX_IDS_FIRST_PAGE, (city, self.id_page_rows))
        while True:
            yield from (r[0] for r in rows)
            if len(rows) < self.id_page_rows:
                return
            rows = self._rows(q.TX_IDS_PAGE, (city, rows[-1][0], self.id_page_rows))

    def state(self, city: str) -> Iterator[tuple[str, bytes]]:
        # Ordered by key in the column's collation (byte order in SQLite and in "C").
        rows = self._rows(q.STATE_FIRST_PAGE, (city, self.page_rows))
        while True:
            yield from ((k, bytes(v)) for k, v in rows)
            if len(rows) < self.page_rows:
                return
            rows = self._rows(q.STATE_PAGE, (city, rows[-1][0], self.page_rows))

    def state_value(self, city: str, key: str) -> bytes | None:
        rows = self._rows(q.STATE_VALUE, (city, key))
        return bytes(rows[0][0]) if rows else None

    def drop_city(self, city: str) -> None:
        self.sql_batch([(query, (city,)) for query in q.DROP_CITY])

    # -- transparency: cosignatures ---------------------------------------------------------

    def add_cosignature(
        self, city: str, size: int, witness_key: str, line: str, timestamp: int
    ) -> bool:
        return bool(self.sql(q.ADD_COSIGNATURE, (city, size, witness_key, line, timestamp)))

    def cosignatures(self, city: str, size: int) -> list[tuple[str, str, int]]:
        rows = self._rows(q.COSIGNATURES, (city, size))
        return [(str(k), str(line), int(ts)) for k, line, ts in rows]

    def cosigned_sizes(
        self,
        city: str,
        witness_keys: Sequence[str],
        at_least: int,
        before: int | None = None,
        limit: int = 16,
    ) -> list[int]:
        keys = list(dict.fromkeys(witness_keys))
        if not keys or at_least > len(keys):
            return []
        bound = before if before is not None else q.NO_END
        rows = self._rows(
            q.cosigned_sizes(len(keys)), (city, bound, *keys, max(at_least, 1), limit)
        )
        return [int(r[0]) for r in rows]
