"""A stored chain read for a replay from genesis: transactions in large batches (one
query by seq range for many blocks, not one per block), their command signatures
checked ahead on every core while the caller re-executes the batches before.

The re-execution stays the caller's, sequential and in order: this only decides which
stored rows each block is replayed with, and whether each envelope's signatures verify.
A batch whose rows are not exactly what its blocks' headers claim (a row missing, moved
to another block, a header unreadable) is read again block by block, by height, as a
per-block replay reads it, so the replay names the same block and transaction.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Final

import msgspec

from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.replay import Prepared, prepare_verified
from localpay.ledger.signatures import EnvelopeChecker, envelopes_verified

#: Transactions per read and per signature batch: large enough that a query and a
#: hand-off to the worker processes cost little per transaction, small enough that
#: the batches in flight stay a few megabytes.
BATCH_TXS: Final = 4096
#: Batches whose signatures are being checked while the caller replays the oldest.
AHEAD: Final = 2

Span = tuple[StoredBlock, list[TxRecord]]


@dataclass
class _Batch:
    spans: list[Span]
    verified: list[Future[bytes]]


def prepared_blocks(
    store: Store, city: str, checker: EnvelopeChecker, batch_txs: int = BATCH_TXS
) -> Iterator[Prepared]:
    """Every block of `city` from genesis, in order, decoded and signature-checked."""
    ahead: deque[_Batch] = deque()
    for spans in _batches(store, city, batch_txs):
        envelopes = [tx.envelope for _, txs in spans for tx in txs]
        ahead.append(_Batch(spans, checker.submit(envelopes)))
        if len(ahead) > AHEAD:
            yield from _prepared(ahead.popleft())
    while ahead:
        yield from _prepared(ahead.popleft())


def prepared_now(spans: Sequence[Span], checker: EnvelopeChecker) -> list[Prepared]:
    """Blocks already read (a witness's page), decoded and signature-checked by `checker`:
    the caller's thread waits without the GIL while the worker processes check."""
    envelopes = [tx.envelope for _, txs in spans for tx in txs]
    return list(_prepared(_Batch(list(spans), checker.submit(envelopes))))


def _prepared(batch: _Batch) -> Iterator[Prepared]:
    try:
        verified = b"".join(future.result() for future in batch.verified)
    except BrokenProcessPool:
        # No workers (e.g. a caller's script without the `if __name__ == "__main__"`
        # guard that spawned processes need): check them here, slower but the same.
        verified = envelopes_verified([tx.envelope for _, txs in batch.spans for tx in txs])
    at = 0
    for block, txs in batch.spans:
        yield prepare_verified(block, txs, verified[at : at + len(txs)])
        at += len(txs)


def _batches(store: Store, city: str, batch_txs: int) -> Iterator[list[Span]]:
    group: list[StoredBlock] = []
    count = 0
    for block in store.blocks(city):
        group.append(block)
        count += _claimed_count(block)
        if count >= batch_txs:
            yield _spans(store, city, group)
            group, count = [], 0
    if group:
        yield _spans(store, city, group)


def _claimed_count(block: StoredBlock) -> int:
    try:
        return msgspec.json.decode(block.header_bytes, type=BlockHeader).tx_count
    except msgspec.MsgspecError:
        return 1  # the replay refuses the block; count it as something


def _spans(store: Store, city: str, blocks: list[StoredBlock]) -> list[Span]:
    """The blocks with their transactions: one query by seq range when the stored rows
    are exactly the ones the headers claim, else one query per block, by height."""
    fast = _by_range(store, city, blocks)
    if fast is not None:
        return fast
    return [(block, store.block_txs(city, block.height)) for block in blocks]


def _by_range(store: Store, city: str, blocks: list[StoredBlock]) -> list[Span] | None:
    try:
        headers = [msgspec.json.decode(b.header_bytes, type=BlockHeader) for b in blocks]
    except msgspec.MsgspecError:
        return None
    low = headers[0].log_size - headers[0].tx_count
    for before, header in itertools.pairwise(headers):
        if header.log_size - header.tx_count != before.log_size:
            return None  # the headers' ranges do not follow each other
    if low < 0 or any(header.tx_count < 0 for header in headers):
        return None
    rows = list(store.txs(city, low, headers[-1].log_size))
    if len(rows) != headers[-1].log_size - low:
        return None  # seqs are unique: the count says whether every one is there
    out, at = [], 0
    for block, header in zip(blocks, headers, strict=True):
        txs = rows[at : at + header.tx_count]
        if any(tx.height != block.height for tx in txs):
            return None
        out.append((block, txs))
        at += header.tx_count
    return out
