"""`localpay verify`: replay each city's chain from its store and compare."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from localpay.ledger.replay import ChainError, Replayer
from localpay.ledger.store import Store


class VerifyReport(msgspec.Struct):
    city: str
    ok: bool
    blocks: int
    txs: int
    problems: list[str]


def verify_city(
    store: Store, city: str, progress: Callable[[int], None] | None = None
) -> VerifyReport:
    replayer = Replayer(city)
    blocks = 0
    try:
        for block in store.blocks(city):
            replayer.feed(block, store.block_txs(city, block.height))
            replayer.check_frontier(block)
            blocks += 1
            if progress:
                progress(blocks)
    except ChainError as exc:
        return VerifyReport(city, False, blocks, replayer.txs_replayed, [str(exc)])
    problems = []
    # Rows beyond the last block's log: inserted transactions that no block covers.
    stray = list(store.txs(city, replayer.head.log.size))
    problems += [f"tx {t.seq} (id {t.id}): stored but in no block's log" for t in stray]
    problems += replayer.compare_state(store.state(city))
    return VerifyReport(city, not problems, blocks, replayer.txs_replayed, problems)
