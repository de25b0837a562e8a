"""Read operations: public chain data (blocks, checkpoints, programs) and account views."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Path, Query, Request

from localpay.domain.errors import NotFound
from localpay.entrypoints.api.auth import allow
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.ports import Store
from localpay.services.cities import inspect
from localpay.services.identity import access
from localpay.services.identity.service import Principal

router = APIRouter()

#: Most items one page of a list returns.
MAX_PAGE: Final = 200
#: Bound of every height, size, sequence number and cursor a request may name: stores keep
#: them in signed 64-bit integers, and a number past that is refused when it is decoded
#: (a path naming one is 404, a query or cursor 422), never handed to a store.
MAX_INTEGER: Final = 2**62
#: A cursor is the base64 of a number below MAX_INTEGER: never longer than this.
MAX_CURSOR: Final = 28

Height = Annotated[int, Path(ge=0, lt=MAX_INTEGER, description="a block height")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR, description="the `next` of the previous page")
]


def _store(request: Request) -> Store:
    store: Store = request.app.state.container.store
    return store


def _city(request: Request, city: str) -> Store:
    store = _store(request)
    if not request.app.state.container.has_city(city):
        raise ApiProblem("not_found", f"no city {city!r}")
    return store


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem("validation_failed", "the cursor is not one this API gave") from None
    if not 0 <= value < MAX_INTEGER:
        raise ApiProblem("validation_failed", "the cursor is not one this API gave")
    return value


@router.get("/v1/cities", tags=["public"], summary="Cities on this installation")
def list_cities(request: Request) -> dict[str, Any]:
    return {"items": [{"city": c} for c in request.app.state.container.cities()]}


@router.get(
    "/v1/cities/{city}",
    tags=["public"],
    summary="A city's chain head and supply",
    responses=responses("not_found"),
)
def city_summary(request: Request, city: str) -> dict[str, Any]:
    return inspect.city_summary(_city(request, city), city)


@router.get(
    "/v1/cities/{city}/blocks",
    tags=["public"],
    summary="Block headers, newest first",
    responses=responses("not_found", "validation_failed"),
)
def list_blocks(
    request: Request,
    city: str,
    cursor: Cursor = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    store = _city(request, city)
    head = store.head(city)
    assert head is not None
    top = decode_cursor(cursor)
    end = min(head.height, top if top is not None else head.height) + 1
    start = max(0, end - limit)
    blocks = list(store.blocks(city, start, end))
    items = [_block_json(b.header_bytes, b.hash, b.checkpoint) for b in reversed(blocks)]
    return {"items": items, "next": encode_cursor(start - 1) if start > 0 else None}


def _block_json(header: bytes, block_hash: bytes, checkpoint: str) -> dict[str, Any]:
    return {
        "header": msgspec.to_builtins(msgspec.json.decode(header, type=BlockHeader)),
        "hash": block_hash.hex(),
        "checkpoint": checkpoint,
    }


@router.get(
    "/v1/cities/{city}/blocks/{height}",
    tags=["public"],
    summary="One block header",
    responses=responses("not_found"),
)
def get_block(request: Request, city: str, height: Height) -> dict[str, Any]:
    store = _city(request, city)
    found = list(store.blocks(city, height, height + 1))
    if not found:
        raise ApiProblem("not_found", f"no block {height} in {city!r}")
    b = found[0]
    return _block_json(b.header_bytes, b.hash, b.checkpoint)


@router.get(
    "/v1/cities/{city}/checkpoints/latest",
    tags=["public"],
    summary="The latest signed checkpoint (C2SP signed note)",
    responses=responses("not_found"),
)
def latest_checkpoint(request: Request, city: str) -> dict[str, Any]:
    store = _city(request, city)
    head = store.head(city)
    assert head is not None
    return {"height": head.height, "checkpoint": head.checkpoint}


@router.get(
    "/v1/cities/{city}/programs/{program}",
    tags=["public"],
    summary="A program: every policy version and its budget",
    responses=responses("not_found"),
)
def get_program(request: Request, city: str, program: str) -> dict[str, Any]:
    try:
        view = inspect.program_view(_city(request, city), city, program)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None
    return dict(msgspec.to_builtins(view))


_PRIVATE = ("unauthenticated", "forbidden", "not_found")


@router.get(
    "/v1/cities/{city}/wallets/{wallet}",
    tags=["accounts"],
    summary="A wallet's balance per program, every lot with its expiry (the wallet itself "
    "or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_wallet(request: Request, city: str, wallet: str) -> dict[str, Any]:
    allow(request, lambda p: access.reads_wallet(p, city, wallet))
    try:
        return inspect.wallet_view(_city(request, city), city, wallet)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None


@router.get(
    "/v1/cities/{city}/merchants/{merchant}",
    tags=["accounts"],
    summary="A merchant's status and balance (its staff or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_merchant(request: Request, city: str, merchant: str) -> dict[str, Any]:
    allow(request, lambda p: access.reads_merchant(p, city, merchant))
    try:
        view = inspect.merchant_view(_city(request, city), city, merchant)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None
    return dict(msgspec.to_builtins(view))


@router.get(
    "/v1/cities/{city}/transactions/{tx_id}",
    tags=["accounts"],
    summary="One transaction: command, signers, result, place in the chain (its parties "
    "or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_transaction(request: Request, city: str, tx_id: str) -> dict[str, Any]:
    principal = allow(request, lambda p: p.city == city)
    try:
        view = inspect.tx_view(
            _city(request, city), city, tx_id, access.own_account(principal, city)
        )
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None
    if not access.reads_transaction(principal, city, parties(view["command"])):
        raise ApiProblem("not_found", "no such resource")  # never confirm it exists
    return view


def parties(command: dict[str, Any]) -> set[str]:
    """The accounts a command names."""
    return {str(command[f]) for f in ("wallet", "merchant", "to") if f in command}


@router.get(
    "/v1/cities/{city}/blocks/{height}/transactions",
    tags=["accounts"],
    summary="Every transaction of a block (the city's staff)",
    responses=responses(*_PRIVATE),
)
def block_transactions(request: Request, city: str, height: Height) -> dict[str, Any]:
    allow(request, lambda p: access.reads_chain_contents(p, city))
    try:
        view = inspect.block_view(_city(request, city), city, height)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None
    return {"items": view["txs"], "next": None}


def _history(
    request: Request, city: str, account: str, cursor: str | None, limit: int, viewer: Principal
) -> dict[str, Any]:
    """One page of a history; each item shows `balance` only to the account that sent it."""
    store = _city(request, city)
    rows = store.account_txs(city, account, decode_cursor(cursor), limit)
    own = access.own_account(viewer, city)
    items = [inspect.tx_summary(tx, own) for tx in rows]
    more = len(rows) == limit and rows[-1].seq > 0
    return {"items": items, "next": encode_cursor(rows[-1].seq) if more else None}


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/transactions",
    tags=["accounts"],
    summary="A wallet's transactions, newest first (the wallet itself or the city's staff)",
    responses=responses(*_PRIVATE, "validation_failed"),
)
def wallet_history(
    request: Request,
    city: str,
    wallet: str,
    cursor: Cursor = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    viewer = allow(request, lambda p: access.reads_wallet(p, city, wallet))
    return _history(request, city, wallet, cursor, limit, viewer)


@router.get(
    "/v1/cities/{city}/merchants/{merchant}/transactions",
    tags=["accounts"],
    summary="A merchant's payments, refunds and payouts, newest first (its staff or the "
    "city's staff)",
    responses=responses(*_PRIVATE, "validation_failed"),
)
def merchant_history(
    request: Request,
    city: str,
    merchant: str,
    cursor: Cursor = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    viewer = allow(request, lambda p: access.reads_merchant(p, city, merchant))
    return _history(request, city, merchant, cursor, limit, viewer)
