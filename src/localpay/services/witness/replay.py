"""The witness's re-execution: every check of `localpay verify`, against its own clock.

Speed: pages are fetched on one thread, their command signatures checked in worker
processes on every core (ledger/readahead.py: threads would wait for the GIL the
re-execution holds), while the previous page is re-executed on another thread and a
third writes the verified blocks: `witness_replay_per_s` measures the re-execution path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from localpay.domain.limits import CLOCK_SKEW_MS_MAX
from localpay.ledger.blocks import BlockHeader, BlockRecord, TxRecord
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.readahead import prepared_blocks
from localpay.ledger.replay import Prepared, Replayer
from localpay.ledger.signatures import EnvelopeChecker
from localpay.services.witness.alarms import Alarm
from localpay.services.witness.ports import Clock
from localpay.services.witness.protocol import FeedBlock


class WitnessReplayer(Replayer):
    """ledger/replay.Replayer (every check of the sequencer and of the seal), with the
    witness's clock as the limit of block times, turning each block back into the
    BlockRecord (with the state entities it changed) the witness writes to its own store."""

    def apply_block(self, prepared: Prepared) -> BlockRecord:
        """Check and re-execute one block; raise ChainError, state then unusable."""
        self.apply(prepared)
        return self.record(prepared.block, prepared.txs)


def clock_limit(clock: Clock, skew_ms: int = CLOCK_SKEW_MS_MAX) -> Clock:
    """The latest block time a witness accepts now: its own clock plus the skew."""
    return lambda: clock() + skew_ms


def stored_block(item: FeedBlock) -> tuple[StoredBlock, list[TxRecord]]:
    """A feed item as the block and transactions the witness checks (exact bytes)."""
    try:
        block_hash, signature = bytes.fromhex(item.hash), bytes.fromhex(item.signature)
    except ValueError:
        raise Alarm(
            "chain_invalid", f"block {item.height}: hash or signature not hex", item.height
        ) from None
    block = StoredBlock(
        item.height, item.header.encode(), block_hash, signature, item.checkpoint, []
    )
    txs = [
        TxRecord(t.seq, t.height, t.id, t.kind, t.envelope.encode(), t.result.encode())
        for t in item.txs
    ]
    return block, txs


def tx_spans(store: Store, city: str, blocks: Sequence[StoredBlock]) -> list[list[TxRecord]]:
    """The transactions of consecutive blocks, read by seq range (the primary key)."""
    headers = [msgspec.json.decode(b.header_bytes, type=BlockHeader) for b in blocks]
    if not headers:
        return []
    low = headers[0].log_size - headers[0].tx_count
    rows = list(store.txs(city, low, headers[-1].log_size))
    out, at = [], 0
    for header in headers:
        out.append(rows[at : at + header.tx_count])
        at += header.tx_count
    return out


def witness_replay_per_s(store: Store, city: str) -> float:
    """Transactions per second the witness's replay path verifies and re-executes over the
    chain of `city` in `store`: every check of a witness (links, hashes, operator and
    command signatures, results, roots, checkpoints) and the block records it writes,
    with the reads and signature checks ahead in worker processes; the writes themselves
    are not timed."""
    checker = EnvelopeChecker()
    replayer = WitnessReplayer(city)
    try:
        begin = time.perf_counter()
        for prepared in prepared_blocks(store, city, checker):
            replayer.apply_block(prepared)
        elapsed = time.perf_counter() - begin
    finally:
        checker.close()
    return replayer.txs_replayed / elapsed if elapsed > 0 else 0.0
