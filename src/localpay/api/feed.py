"""The chain feed: whole blocks, in order, with everything needed to re-execute them.

`GET /v1/cities/{city}/feed?from_height=H&limit=N` is what a witness (`localpay witness`)
follows. Each block comes with its exact stored header (the JSON text whose bytes are
hashed), its hash, the operator's signature, its checkpoint note and its transactions with
their exact envelope and result text. The blocks are read from the store, as stored: the
feed never repairs or re-encodes anything, so a witness sees exactly what the operator
holds.

Who may read it: the city's staff (a bearer token), and the city's witnesses, who sign each
request with their witness key (services/witness_auth.py explains why per request).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from localpay.api.auth import allow
from localpay.api.problems import ApiProblem, responses
from localpay.ledger.blocks import TxRecord, decode_header
from localpay.ledger.store import Store, StoredBlock
from localpay.services import access
from localpay.services.witness_auth import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    WitnessAuthError,
    check_feed_request,
)

router = APIRouter(tags=["transparency"])

#: Most blocks one page returns.
MAX_BLOCKS: Final = 1000
#: A page stops adding blocks once it holds this many transactions (it always holds at
#: least one block, whatever its size).
MAX_PAGE_TXS: Final = 20_000
MAX_HEIGHT: Final = 2**62


class FeedTx(msgspec.Struct, frozen=True):
    seq: int
    height: int
    id: str
    kind: str
    envelope: str
    result: str


class FeedBlock(msgspec.Struct, frozen=True):
    height: int
    header: str
    hash: str
    signature: str
    checkpoint: str
    txs: list[FeedTx]


class FeedPage(msgspec.Struct, frozen=True):
    city: str
    head: int
    items: list[FeedBlock]
    next: int | None


# -- documentation of the response (the handler encodes FeedPage with msgspec) ---------------


class FeedTxOut(BaseModel):
    seq: int = Field(description="leaf index in the city's log")
    height: int
    id: str
    kind: str
    envelope: str = Field(description="the signed envelope exactly as stored (UTF-8 JSON text)")
    result: str = Field(description="the recorded result exactly as stored (UTF-8 JSON text)")


class FeedBlockOut(BaseModel):
    height: int
    header: str = Field(
        description="the stored header, exact JSON text: SHA-256('localpay/block/v1\\n' ||"
        " its UTF-8 bytes) is `hash`"
    )
    hash: str = Field(description="hex")
    signature: str = Field(description="the operator's Ed25519 signature of the hash, hex")
    checkpoint: str = Field(description="C2SP signed note of the log after this block")
    txs: list[FeedTxOut] = Field(description="the block's transactions in log order")


class FeedPageOut(BaseModel):
    city: str
    head: int = Field(description="the height of the newest durable block")
    items: list[FeedBlockOut]
    next: int | None = Field(description="from_height of the next page; null when at the head")


def _text(data: bytes) -> str:
    # Stored envelopes and results are UTF-8 JSON; a damaged row that is not stays
    # damaged (replaced characters), so its hashes fail where the witness checks them.
    return data.decode("utf-8", errors="replace")


def _feed_tx(tx: TxRecord) -> FeedTx:
    return FeedTx(tx.seq, tx.height, tx.id, tx.kind, _text(tx.envelope), _text(tx.result))


def _txs_by_block(store: Store, city: str, blocks: list[StoredBlock]) -> list[list[TxRecord]]:
    """Each block's transactions: one range read over the seqs its headers claim; a block
    whose header cannot be read is read by height instead."""
    ranges: list[tuple[int, int] | None] = []
    for block in blocks:
        try:
            header = decode_header(block.header_bytes)
            ranges.append((header.log_size - header.tx_count, header.log_size))
        except msgspec.MsgspecError:
            ranges.append(None)
    known = [r for r in ranges if r is not None and r[0] < r[1]]
    rows: dict[int, TxRecord] = {}
    if known:
        low, high = min(r[0] for r in known), max(r[1] for r in known)
        if 0 <= low and high - low <= 4 * MAX_PAGE_TXS + 4 * MAX_BLOCKS:
            rows = {tx.seq: tx for tx in store.txs(city, low, high)}
    out: list[list[TxRecord]] = []
    for block, span in zip(blocks, ranges, strict=True):
        if span is None or not rows and span[0] < span[1]:
            out.append(store.block_txs(city, block.height))
        else:
            out.append([rows[s] for s in range(span[0], span[1]) if s in rows])
    return out


def feed_page(store: Store, city: str, from_height: int, limit: int) -> FeedPage:
    head = store.head(city)
    top = head.height if head is not None else -1
    blocks: list[StoredBlock] = []
    counted = 0
    for block in store.blocks(city, from_height, min(from_height + limit, top + 1)):
        if blocks and (block.height != blocks[-1].height + 1):
            break  # a hole in the stored heights: the page ends before it
        try:
            size = decode_header(block.header_bytes).tx_count
        except msgspec.MsgspecError:
            size = 0
        if blocks and counted + size > MAX_PAGE_TXS:
            break
        blocks.append(block)
        counted += size
    items = [
        FeedBlock(
            block.height,
            _text(block.header_bytes),
            block.hash.hex(),
            block.signature.hex(),
            block.checkpoint,
            [_feed_tx(tx) for tx in txs],
        )
        for block, txs in zip(blocks, _txs_by_block(store, city, blocks), strict=True)
    ]
    last = items[-1].height if items else from_height - 1
    return FeedPage(city, top, items, last + 1 if last < top else None)


_encoder: Final = msgspec.json.Encoder()


@router.get(
    "/v1/cities/{city}/feed",
    summary="Whole blocks in order, for witnesses to re-execute (witnesses, the city's staff)",
    description="Blocks from `from_height` on, oldest first, each with its exact stored"
    " header text, hash, operator signature, checkpoint note and transactions (exact envelope"
    " and result text). A witness signs each request with its key (headers"
    f" `{KEY_HEADER}`, `{TIME_HEADER}` in Unix ms, `{SIGNATURE_HEADER}`: Ed25519 of"
    " 'localpay/witness-feed/v1\\n<city>\\n<key>\\n<from_height>\\n<limit>\\n<time_ms>');"
    " the key must be in the city's on-chain witness set. The city's staff use their token."
    " See docs/witnesses.md.",
    responses={
        200: {"model": FeedPageOut, "description": "a page of blocks"},
        **responses("unauthenticated", "forbidden", "not_found", "validation_failed"),
    },
)
def chain_feed(
    request: Request,
    city: str,
    from_height: Annotated[int, Query(ge=0, lt=MAX_HEIGHT, description="first block")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_BLOCKS, description="most blocks")] = 100,
    witness_key: Annotated[
        str | None,
        Header(alias=KEY_HEADER, pattern=r"^[0-9a-f]{64}$", description="witness key, hex"),
    ] = None,
    witness_time: Annotated[
        int | None,
        Header(alias=TIME_HEADER, ge=0, lt=2**62, description="Unix time in ms"),
    ] = None,
    witness_signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER, pattern=r"^[0-9a-f]{128}$", description="hex"),
    ] = None,
) -> Any:
    container = request.app.state.container
    store: Store = container.store
    signed = (witness_key, witness_time, witness_signature)
    if any(v is not None for v in signed):
        if witness_key is None or witness_time is None or witness_signature is None:
            raise ApiProblem(
                "unauthenticated",
                f"a witness sends {KEY_HEADER}, {TIME_HEADER} and {SIGNATURE_HEADER} together",
            )
        if not container.has_city(city):
            raise ApiProblem("not_found", f"no city {city!r}")
        try:
            check_feed_request(
                store,
                city,
                witness_key,
                witness_time,
                witness_signature,
                from_height,
                limit,
                container.clock,
            )
        except WitnessAuthError as exc:
            raise ApiProblem(exc.code, exc.detail) from None
    else:
        allow(request, lambda p: access.reads_chain_contents(p, city))
        if not container.has_city(city):
            raise ApiProblem("not_found", f"no city {city!r}")
    page = feed_page(store, city, from_height, limit)
    return Response(_encoder.encode(page), media_type="application/json")
