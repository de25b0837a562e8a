"""Read operations: public chain data (blocks, checkpoints, programs) and account views."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request

from localpay.bootstrap import Container
from localpay.entrypoints.api.deps import ContainerDep, allow, known_city
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.entrypoints.api.schemas import (
    DEFAULT_PAGE,
    Cursor,
    Height,
    Limit,
    decode_cursor,
    page,
)
from localpay.ledger import machine
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.ports import Store
from localpay.services.cities import inspect
from localpay.services.identity import access
from localpay.services.identity.service import Principal

router = APIRouter()


def _city(container: Container, city: str) -> Store:
    known_city(container, city)
    return container.store


@router.get("/v1/cities", tags=["public"], summary="Cities on this installation")
def list_cities(container: ContainerDep) -> dict[str, Any]:
    return {"items": [{"city": c} for c in container.cities()]}


@router.get(
    "/v1/cities/{city}",
    tags=["public"],
    summary="A city's chain head and supply",
    responses=responses("not_found"),
)
def city_summary(container: ContainerDep, city: str) -> dict[str, Any]:
    return msgspec.structs.asdict(inspect.city_summary(_city(container, city), city))


@router.get(
    "/v1/cities/{city}/blocks",
    tags=["public"],
    summary="Block headers, newest first",
    responses=responses("not_found", "validation_failed"),
)
def list_blocks(
    container: ContainerDep, city: str, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE
) -> dict[str, Any]:
    store = _city(container, city)
    head = store.head(city)
    assert head is not None
    top = decode_cursor(cursor)
    end = min(head.height, top if top is not None else head.height) + 1
    start = max(0, end - limit)
    blocks = list(store.blocks(city, start, end))
    items = [_block_json(b.header_bytes, b.hash, b.checkpoint) for b in reversed(blocks)]
    return page(items, start - 1 if start > 0 else None)


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
def get_block(container: ContainerDep, city: str, height: Height) -> dict[str, Any]:
    store = _city(container, city)
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
def latest_checkpoint(container: ContainerDep, city: str) -> dict[str, Any]:
    store = _city(container, city)
    head = store.head(city)
    assert head is not None
    return {"height": head.height, "checkpoint": head.checkpoint}


@router.get(
    "/v1/cities/{city}/programs/{program}",
    tags=["public"],
    summary="A program: every policy version and its budget",
    responses=responses("not_found"),
)
def get_program(container: ContainerDep, city: str, program: str) -> dict[str, Any]:
    view = inspect.program_view(_city(container, city), city, program)
    return dict(msgspec.to_builtins(view))


_PRIVATE = ("unauthenticated", "forbidden", "not_found")


@router.get(
    "/v1/cities/{city}/wallets/{wallet}",
    tags=["accounts"],
    summary="A wallet's balance per program, every lot with its expiry (the wallet itself "
    "or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_wallet(request: Request, container: ContainerDep, city: str, wallet: str) -> dict[str, Any]:
    allow(request, lambda p: access.reads_wallet(p, city, wallet))
    return dict(msgspec.to_builtins(inspect.wallet_view(_city(container, city), city, wallet)))


@router.get(
    "/v1/cities/{city}/merchants/{merchant}",
    tags=["accounts"],
    summary="A merchant's status and balance (its staff or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_merchant(
    request: Request, container: ContainerDep, city: str, merchant: str
) -> dict[str, Any]:
    allow(request, lambda p: access.reads_merchant(p, city, merchant))
    view = inspect.merchant_view(_city(container, city), city, merchant)
    return dict(msgspec.to_builtins(view))


@router.get(
    "/v1/cities/{city}/transactions/{tx_id}",
    tags=["accounts"],
    summary="One transaction: command, signers, result, place in the chain (its parties "
    "or the city's staff)",
    responses=responses(*_PRIVATE),
)
def get_transaction(
    request: Request, container: ContainerDep, city: str, tx_id: str
) -> dict[str, Any]:
    principal = allow(request, lambda p: p.city == city)
    view = inspect.tx_view(_city(container, city), city, tx_id, access.own_account(principal, city))
    if not access.reads_transaction(principal, city, set(machine.accounts_of(view.command))):
        raise ApiProblem("not_found", "no such resource")  # never confirm it exists
    return dict(msgspec.to_builtins(view))


@router.get(
    "/v1/cities/{city}/blocks/{height}/transactions",
    tags=["accounts"],
    summary="Every transaction of a block (the city's staff)",
    responses=responses(*_PRIVATE),
)
def block_transactions(
    request: Request, container: ContainerDep, city: str, height: Height
) -> dict[str, Any]:
    allow(request, lambda p: access.reads_chain_contents(p, city))
    view = inspect.block_view(_city(container, city), city, height)
    return {"items": msgspec.to_builtins(view.txs), "next": None}


def _history(
    container: Container,
    city: str,
    account: str,
    cursor: str | None,
    limit: int,
    viewer: Principal,
) -> dict[str, Any]:
    """One page of a history; each item shows `balance` only to the account that sent it."""
    known_city(container, city)
    rows = container.history.account_txs(city, account, decode_cursor(cursor), limit)
    own = access.own_account(viewer, city)
    items = [msgspec.to_builtins(inspect.tx_summary(tx, own)) for tx in rows]
    more = len(rows) == limit and rows[-1].seq > 0
    return page(items, rows[-1].seq if more else None)


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/transactions",
    tags=["accounts"],
    summary="A wallet's transactions, newest first (the wallet itself or the city's staff)",
    responses=responses(*_PRIVATE, "validation_failed"),
)
def wallet_history(
    request: Request,
    container: ContainerDep,
    city: str,
    wallet: str,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> dict[str, Any]:
    viewer = allow(request, lambda p: access.reads_wallet(p, city, wallet))
    return _history(container, city, wallet, cursor, limit, viewer)


@router.get(
    "/v1/cities/{city}/merchants/{merchant}/transactions",
    tags=["accounts"],
    summary="A merchant's payments, refunds and payouts, newest first (its staff or the "
    "city's staff)",
    responses=responses(*_PRIVATE, "validation_failed"),
)
def merchant_history(
    request: Request,
    container: ContainerDep,
    city: str,
    merchant: str,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> dict[str, Any]:
    viewer = allow(request, lambda p: access.reads_merchant(p, city, merchant))
    return _history(container, city, merchant, cursor, limit, viewer)
