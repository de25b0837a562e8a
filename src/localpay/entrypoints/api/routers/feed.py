"""The chain feed: whole blocks, in order, with everything needed to re-execute them.

`GET /v1/cities/{city}/feed?from_height=H&limit=N` is what a witness (`localpay witness`)
follows. Each block comes with its exact stored header (the JSON text whose bytes are
hashed), its hash, the operator's signature, its checkpoint note and its transactions with
their exact envelope and result text. The blocks are read from the store, as stored: the
feed never repairs or re-encodes anything, so a witness sees exactly what the operator
holds (the page format and its reading are in services/witness/protocol.py).

Who may read it: the city's staff (a bearer token), and the city's witnesses, who sign each
request with their witness key (services/witness/protocol.py explains why per request).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from localpay.domain.limits import FEED_BLOCKS_MAX, INTEGER_MAX
from localpay.entrypoints.api.deps import ContainerDep, allow, known_city
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.entrypoints.api.schemas import TransactionOut
from localpay.services.identity import access
from localpay.services.witness.protocol import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    WitnessAuthError,
    check_feed_request,
    feed_page,
)

router = APIRouter(tags=["transparency"])


# -- documentation of the response (the handler encodes FeedPage with msgspec) ---------------


class FeedBlockOut(BaseModel):
    height: int
    header: str = Field(
        description="the stored header, exact JSON text: SHA-256('localpay/block/v1\\n' ||"
        " its UTF-8 bytes) is `hash`"
    )
    hash: str = Field(description="hex")
    signature: str = Field(description="the operator's Ed25519 signature of the hash, hex")
    checkpoint: str = Field(description="C2SP signed note of the log after this block")
    txs: list[TransactionOut] = Field(description="the block's transactions in log order")


class FeedPageOut(BaseModel):
    city: str
    head: int = Field(description="the height of the newest durable block")
    items: list[FeedBlockOut]
    next: int | None = Field(description="from_height of the next page; null when at the head")
    witness: str | None = Field(
        None, description="the asking witness's name in the on-chain set (its cosignature key name)"
    )


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
    container: ContainerDep,
    city: str,
    from_height: Annotated[int, Query(ge=0, lt=INTEGER_MAX, description="first block")] = 0,
    limit: Annotated[int, Query(ge=1, le=FEED_BLOCKS_MAX, description="most blocks")] = 100,
    witness_key: Annotated[
        str | None,
        Header(alias=KEY_HEADER, pattern=r"^[0-9a-f]{64}$", description="witness key, hex"),
    ] = None,
    witness_time: Annotated[
        int | None,
        Header(alias=TIME_HEADER, ge=0, lt=INTEGER_MAX, description="Unix time in ms"),
    ] = None,
    witness_signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER, pattern=r"^[0-9a-f]{128}$", description="hex"),
    ] = None,
) -> Any:
    store = container.store
    signed = (witness_key, witness_time, witness_signature)
    name: str | None = None
    if any(v is not None for v in signed):
        if witness_key is None or witness_time is None or witness_signature is None:
            raise ApiProblem(
                "unauthenticated",
                f"a witness sends {KEY_HEADER}, {TIME_HEADER} and {SIGNATURE_HEADER} together",
            )
        known_city(container, city)
        try:
            name = check_feed_request(
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
        known_city(container, city)

    page = feed_page(store, city, from_height, limit, name)
    return Response(_encoder.encode(page), media_type="application/json")
