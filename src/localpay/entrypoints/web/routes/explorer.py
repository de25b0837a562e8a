"""The public explorer: blocks and checkpoints, supply, payment aggregates, a receipt
checker. No sign-in and no personal data: what the API's public endpoints show (block
headers, checkpoints, cosignatures), and aggregates with small cells suppressed
(services/explorer). Receipts are checked in the browser (static/js/receipt-verify.js),
against keys this page pins from the city's genesis and on-chain witness set."""

from __future__ import annotations

import contextlib
from typing import Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from localpay.domain.errors import NotFound
from localpay.entrypoints.web.deps import city_of, container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.labels import area_names
from localpay.entrypoints.web.render import page
from localpay.ledger.blocks import BlockHeader, decode_header
from localpay.ledger.chain import chain_origin, stored_genesis_hash
from localpay.services.cities.inspect import program_view, require_city
from localpay.services.explorer.service import Explorer
from localpay.services.transparency.service import Transparency

router = APIRouter()
BLOCKS_PER_PAGE: Final = 20


def _transparency(request: Request) -> Transparency:
    found: Transparency = container(request).transparency
    return found


def _explorer(request: Request) -> Explorer:
    found: Explorer = container(request).explorer
    return found


@router.get("/c/{city}/explorer/")
def explorer_home(
    request: Request, city: str, before: int | None = Query(None, ge=0, lt=2**63)
) -> Response:
    """The latest checkpoint and its finality, then recent blocks (paged by height)."""
    summary = city_of(request, city)
    svc = _transparency(request)
    latest = svc.checkpoints(city, None, 1)[0]
    top = summary.height if before is None else min(before, summary.height)
    start = max(0, top - BLOCKS_PER_PAGE + 1)
    blocks = [
        (decode_header(b.header_bytes), b.hash.hex())
        for b in svc.store.blocks(city, start, top + 1)
    ]
    blocks.reverse()
    context = {
        "city": summary,
        "latest": latest[0] if latest else None,
        "latest_final": svc.latest_final(city),
        "blocks": blocks,
        "older": start - 1 if start > 0 else None,
        "newer": min(top + BLOCKS_PER_PAGE, summary.height) if top < summary.height else None,
    }
    return page(request, "explorer/index.html", context)


@router.get("/c/{city}/explorer/blocks/{height}")
def explorer_block(request: Request, city: str, height: int) -> Response:
    """One block: header, the operator's signatures, its checkpoint and who cosigned it."""
    summary = city_of(request, city)
    svc = _transparency(request)
    found = list(svc.store.blocks(city, height, height + 1)) if 0 <= height < 2**63 else []
    if not found:
        raise PageError(404, N_("There is no such block."))
    block = found[0]
    header = decode_header(block.header_bytes)
    try:
        view = svc.checkpoint(city, header.log_size)
    except NotFound:
        view = None
    context = {
        "city": summary,
        "header": header,
        "hash": block.hash.hex(),
        "signature": block.signature.hex(),
        "note": block.checkpoint,
        "view": view,
        "witnesses": _witness_rows(svc, city, header, view),
    }
    return page(request, "explorer/block.html", context)


def _witness_rows(
    svc: Transparency, city: str, header: BlockHeader, view: Any
) -> list[dict[str, Any]]:
    """Each current witness: cosigned and verified, stored but not verifying, or not yet."""
    auth = svc.authorities(city)
    verified = {s.key: s for s in view.signers if s.role == "witness"} if view else {}
    stored = {key for key, _, _ in svc.store.cosignatures(city, header.log_size)}
    rows = []
    for key, name in sorted(auth.witnesses.items(), key=lambda kv: kv[1]):
        status = "verified" if key in verified else "invalid" if key in stored else "missing"
        timestamp = verified[key].timestamp if key in verified else None
        rows.append({"name": name, "key": key, "status": status, "timestamp": timestamp})
    return rows


@router.get("/c/{city}/explorer/supply")
def explorer_supply(request: Request, city: str) -> Response:
    summary = city_of(request, city)
    points = _explorer(request).supply(city)
    series = {
        "dates": [p.date for p in points],
        "minted": [p.minted for p in points],
        "burned": [p.burned for p in points],
        "outstanding": [p.outstanding for p in points],
    }
    context = {"city": summary, "points": points, "series": series}
    return page(request, "explorer/supply.html", context)


@router.get("/c/{city}/explorer/payments")
def explorer_payments(request: Request, city: str) -> Response:
    summary = city_of(request, city)
    explorer = _explorer(request)
    by_program = explorer.payments(city, "program")
    context = {
        "city": summary,
        "by_program": by_program,
        "by_area": explorer.payments(city, "area"),
        "area_names": area_names(request, city),
        "program_names": _program_names(request, city, by_program.columns),
    }
    return page(request, "explorer/payments.html", context)


def _program_names(request: Request, city: str, programs: list[str]) -> dict[str, str]:
    """Each program's public name: its newest policy's `name`, on the chain."""
    store = container(request).store
    names = {}
    for program in programs:
        with contextlib.suppress(NotFound):  # "?" and the like: shown as they are
            names[program] = program_view(store, city, program).versions[-1].name
    return names


@router.get("/c/{city}/explorer/receipt")
def explorer_receipt(request: Request, city: str) -> Response:
    """The receipt checker: the keys are pinned here, the checking happens in the browser."""
    summary = city_of(request, city)
    box = container(request)
    genesis = require_city(box.store, city)
    auth = _transparency(request).authorities(city)
    genesis_hash = stored_genesis_hash(box.store, city) or ""
    witnesses = [{"name": n, "key": k} for k, n in sorted(auth.witnesses.items())]
    pins = {
        "operatorKey": genesis.operator_key,
        "witnesses": witnesses if auth.quorum >= 1 else None,
        "quorum": auth.quorum if auth.quorum >= 1 else None,
    }
    context = {
        "city": summary,
        "pins": pins,
        "genesis_hash": genesis_hash,
        "origin": chain_origin(city, genesis_hash) if genesis_hash else "",
    }
    return page(request, "explorer/receipt.html", context)
