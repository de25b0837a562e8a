"""What the ledger needs from a store. Adapters (SQLite, PostgreSQL) implement it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import msgspec

from localpay.ledger.blocks import BlockRecord, TxRecord


class LeaseHeld(RuntimeError):
    """Another sequencer holds this city's lease: two writers must never share a chain."""


class StoreError(RuntimeError):
    """The store cannot be used (unreachable, corrupt, wrong schema); says why."""


class StoreConflict(StoreError):
    """A write broke a uniqueness rule (an id or key that already exists)."""


class StoredBlock(msgspec.Struct, frozen=True):
    height: int
    header_bytes: bytes
    hash: bytes
    signature: bytes
    checkpoint: str
    frontier: list[bytes]


class Store(Protocol):
    def cities(self) -> list[str]: ...

    def lease(self, city: str) -> AbstractContextManager[None]:
        """Hold the city's write lease for the context; raise LeaseHeld if taken."""
        ...

    def append_block(self, city: str, block: BlockRecord) -> None:
        """Write block, transactions and state changes in one durable transaction."""
        ...

    def head(self, city: str) -> StoredBlock | None: ...

    def blocks(self, city: str, start: int = 0, end: int | None = None) -> Iterator[StoredBlock]:
        """Blocks with start <= height < end, in height order."""
        ...

    def txs(self, city: str, start: int = 0, end: int | None = None) -> Iterator[TxRecord]:
        """Transactions with start <= seq < end, in log order."""
        ...

    def block_txs(self, city: str, height: int) -> list[TxRecord]: ...

    def find_tx(self, city: str, tx_id: str) -> TxRecord | None: ...

    def tx_ids(self, city: str) -> Iterator[str]: ...

    def add_parties(self, city: str, rows: list[tuple[str, int]]) -> None:
        """Add (account, seq) pairs to the history index (idempotent)."""
        ...

    def parties_high_water(self, city: str) -> int:
        """The highest seq indexed for the city, -1 if none."""
        ...

    def account_txs(
        self, city: str, account: str, before: int | None, limit: int
    ) -> list[TxRecord]:
        """An account's transactions, newest first, with seq < before."""
        ...

    def state(self, city: str) -> Iterator[tuple[str, bytes]]: ...

    def state_value(self, city: str, key: str) -> bytes | None: ...

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Application tables (identities, idempotency): one statement, qmark style."""
        ...

    def sql_batch(
        self, statements: list[tuple[str, tuple[Any, ...]]]
    ) -> list[list[tuple[Any, ...]]]: ...

    def close(self) -> None: ...
