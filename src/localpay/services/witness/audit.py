"""The rolling audit: while following, the witness re-reads the history it already verified
from the server and compares it, block by block and byte for byte, with its own copy, so
an in-place edit of an old transaction is found too."""

from __future__ import annotations

from localpay.ledger.blocks import TxRecord
from localpay.ledger.ports import Store, StoredBlock
from localpay.services.witness.alarms import Alarm
from localpay.services.witness.follow import Feed, check_signed
from localpay.services.witness.ports import WitnessRecords
from localpay.services.witness.protocol import FeedBlock
from localpay.services.witness.replay import tx_spans


def audit_page(
    feed: Feed, store: Store, records: WitnessRecords, start: int, top: int, page_blocks: int
) -> int:
    """Compare one page of the server's history from `start`, up to the own head `top`,
    with the own copy; the height to continue from (0 after the own head: a new round)."""
    city = feed.city
    if top < 0:
        return 0
    start = start if start <= top else 0
    page = feed.page(start, min(page_blocks, top - start + 1))
    items = [i for i in page.items if i.height <= top]
    if page.head < top:
        raise Alarm(
            "history_rewritten",
            f"the server's chain ends at block {page.head}, below block {top}"
            " that this witness verified",
            page.head,
        )
    if not items:
        return 0
    own = {b.height: b for b in store.blocks(city, items[0].height, top + 1)}
    kept = [i.height for i in items if i.height in own]
    by_height = dict(zip(kept, tx_spans(store, city, [own[h] for h in kept]), strict=True))
    expected = start
    for item in items:
        if item.height != expected:
            raise Alarm("gap", f"audit: expected block {expected}, got {item.height}", expected)
        expected += 1
        mine = own.get(item.height)
        if mine is None:
            continue
        check_signed(item, city, records)
        _compare_block(item, mine)
        _compare_txs(item, by_height[item.height])
    last = items[-1].height
    return last + 1 if last < top else 0


def _compare_block(item: FeedBlock, mine: StoredBlock) -> None:
    if (
        item.header.encode() != mine.header_bytes
        or item.hash != mine.hash.hex()
        or item.signature != mine.signature.hex()
        or item.checkpoint != mine.checkpoint
    ):
        raise Alarm(
            "history_rewritten",
            f"block {item.height} is now served with another header, hash, signature"
            " or checkpoint than the one this witness verified",
            item.height,
        )


def _compare_txs(item: FeedBlock, mine: list[TxRecord]) -> None:
    theirs = [
        (t.seq, t.height, t.id, t.kind, t.envelope.encode(), t.result.encode()) for t in item.txs
    ]
    ours = [(t.seq, t.height, t.id, t.kind, t.envelope, t.result) for t in mine]
    if theirs != ours:
        where = next(
            (str(a[0]) for a, b in zip(theirs, ours, strict=False) if a != b),
            f"count {len(theirs)} != {len(ours)}",
        )
        raise Alarm(
            "history_rewritten",
            f"block {item.height}: its transactions are now served differently from"
            f" the ones this witness verified (first difference: tx {where})",
            item.height,
        )
