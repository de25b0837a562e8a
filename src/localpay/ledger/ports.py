"""What the ledger needs from a store: the chain store. Adapters (SQLite, PostgreSQL)
implement it.

Only the chain (blocks, transactions, state, the lease, leaf hashes, cosignatures):
no SQL runner. Each feature's other tables sit behind that feature's own repository
(services/<feature>/ports.py, implemented in adapters/sql/<feature>.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import msgspec

from localpay.domain.errors import Conflict, Unavailable
from localpay.ledger.blocks import BlockRecord, TxRecord


class LeaseHeld(Unavailable):
    """Another sequencer holds this city's lease: two writers must never share a chain."""


class StoreError(Unavailable):
    """The store cannot be used (unreachable, corrupt, wrong schema); says why."""


class StoreConflict(StoreError, Conflict):
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

    def state(self, city: str) -> Iterator[tuple[str, bytes]]: ...

    def state_value(self, city: str, key: str) -> bytes | None: ...

    def drop_city(self, city: str) -> None:
        """Remove a city's chain and all derived from it, in one transaction (an import
        refused half-way leaves nothing behind)."""
        ...

    # -- transparency: leaf hashes and witnesses' cosignatures -------------------------

    def leaf_hashes(self, city: str, start: int, end: int) -> list[bytes]:
        """RFC 6962 leaf hashes of the transactions with start <= seq < end, in log order.

        Contiguous from `start`: stops before the first missing seq. Read in pages,
        so a caller may ask for a large range without holding every row at once.
        """
        ...

    def add_cosignature(
        self, city: str, size: int, witness_key: str, line: str, timestamp: int
    ) -> bool:
        """Record a (verified) cosignature line; False if that witness already has one
        for that checkpoint size (the first one stays)."""
        ...

    def cosignatures(self, city: str, size: int) -> list[tuple[str, str, int]]:
        """(witness_key, line, timestamp) of every cosignature of that checkpoint size."""
        ...

    def cosigned_sizes(
        self,
        city: str,
        witness_keys: Sequence[str],
        at_least: int,
        before: int | None = None,
        limit: int = 16,
    ) -> list[int]:
        """Checkpoint sizes below `before` cosigned by at least `at_least` of these keys,
        largest first."""
        ...

    def close(self) -> None: ...
