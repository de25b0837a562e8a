"""Transparency: checkpoints with witnesses' cosignatures, proofs, transaction receipts.

Public: checkpoints and consistency proofs (they reveal sizes and hashes only).
Cosignatures are submitted by witnesses with no sign-in: the cosignature itself is the
authentication, checked against the witness keys on the city's chain. A receipt holds
the transaction itself, so it is visible to the same people as the transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from localpay.domain.commands import DecodeError, decode_envelope
from localpay.domain.errors import NotFound
from localpay.domain.limits import INTEGER_MAX
from localpay.entrypoints.api.deps import allow, container_of, known_city, transparency_of
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.entrypoints.api.schemas import (
    DEFAULT_PAGE,
    Cursor,
    Limit,
    ReceiptOut,
    Size,
    decode_cursor,
    page,
)
from localpay.ledger import machine
from localpay.services.identity import access
from localpay.services.transparency.service import (
    InvalidCosignature,
    LogMismatch,
    MalformedCosignature,
    ProofRangeError,
    Transparency,
    UnknownWitness,
)

router = APIRouter()


def _city(request: Request, city: str) -> Transparency:
    known_city(container_of(request), city)
    return transparency_of(request)


# -- response schemas (documentation; the handlers return plain JSON) ---------------------------


class Signer(BaseModel):
    role: str = Field(description="operator or witness")
    name: str = Field(description="the key name on the signature line")
    key: str = Field(description="Ed25519 public key, hex")
    timestamp: int | None = Field(None, description="a witness's cosigning time (Unix seconds)")


class CheckpointOut(BaseModel):
    size: int = Field(description="tree size: transactions in the log")
    height: int = Field(description="the block that carries this checkpoint")
    root: str = Field(description="RFC 6962 root of the log at this size, hex")
    note: str = Field(
        description="C2SP signed note: checkpoint text, a blank line, the operator's signature"
        " line, then one cosignature/v1 line per current witness that cosigned"
    )
    signers: list[Signer]
    cosignatures: int
    quorum: int
    final: bool = Field(description="cosigned by at least `quorum` current witnesses")


class CheckpointPage(BaseModel):
    items: list[CheckpointOut]
    next: str | None = Field(description="cursor of the next (older) page; null at block 0")


class CosignatureIn(BaseModel):
    line: Annotated[
        str,
        Field(
            min_length=3,
            max_length=1024,
            description="one C2SP signature line: '— <witness name> <base64 of key id,"
            " 8-byte timestamp, Ed25519 signature>' (tlog-cosignature, cosignature/v1)",
        ),
    ]


class ConsistencyOut(BaseModel):
    old: int
    new: int
    proof: list[str] = Field(description="RFC 9162 consistency proof, hex hashes")


def _ok(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    return {"model": model, "description": description}


# -- routes -----------------------------------------------------------------------------------


@router.get(
    "/v1/cities/{city}/checkpoints",
    tags=["transparency"],
    summary="Checkpoints, newest first, each with its witnesses' cosignatures",
    responses={200: _ok(CheckpointPage), **responses("not_found", "validation_failed")},
)
def list_checkpoints(
    request: Request,
    city: str,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Any:
    svc = _city(request, city)
    items, nxt = svc.checkpoints(city, decode_cursor(cursor), limit)
    return page(msgspec.to_builtins(items), nxt)


@router.get(
    "/v1/cities/{city}/checkpoints/{size:int}",
    tags=["transparency"],
    summary="The checkpoint of one tree size, with its cosignatures",
    responses={200: _ok(CheckpointOut), **responses("not_found")},
)
def get_checkpoint(request: Request, city: str, size: Size) -> Any:
    svc = _city(request, city)
    return msgspec.to_builtins(svc.checkpoint(city, size))


@router.post(
    "/v1/cities/{city}/checkpoints/{size:int}/cosignatures",
    tags=["transparency"],
    summary="A witness cosigns a checkpoint (the cosignature is the authentication)",
    description="The line must verify, as a C2SP tlog-cosignature (cosignature/v1), over"
    " the checkpoint of that size for one of the witnesses of the city's current on-chain"
    " witness set. 201 when stored; 200 when that witness's cosignature of that checkpoint"
    " was already stored (the first one stays). `forbidden`: not a witness of the city, or"
    " a signature that does not verify; `validation_failed`: not a signature line.",
    status_code=201,
    responses={
        201: _ok(CheckpointOut, "stored; the checkpoint with every cosignature so far"),
        200: _ok(CheckpointOut, "that witness had already cosigned it; nothing changed"),
        **responses("not_found", "forbidden", "validation_failed"),
    },
)
def cosign_checkpoint(request: Request, city: str, size: Size, body: CosignatureIn) -> Any:
    svc = _city(request, city)
    try:
        view, added = svc.add_cosignature(city, size, body.line)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None
    except MalformedCosignature as exc:
        raise ApiProblem("validation_failed", str(exc)) from None
    except (UnknownWitness, InvalidCosignature) as exc:
        raise ApiProblem("forbidden", str(exc)) from None
    return JSONResponse(msgspec.to_builtins(view), status_code=201 if added else 200)


@router.get(
    "/v1/cities/{city}/proofs/consistency",
    tags=["transparency"],
    summary="RFC 9162 consistency proof between two tree sizes of the city's log",
    responses={
        200: _ok(ConsistencyOut),
        **responses("not_found", "validation_failed", "unavailable"),
    },
)
def consistency_proof(
    request: Request,
    city: str,
    old: int = Query(ge=0, lt=INTEGER_MAX, description="the older tree size"),
    new: int = Query(ge=0, lt=INTEGER_MAX, description="the newer tree size"),
) -> Any:
    svc = _city(request, city)
    try:
        return msgspec.to_builtins(svc.consistency(city, old, new))
    except ProofRangeError as exc:
        raise ApiProblem("validation_failed", str(exc)) from None
    except LogMismatch as exc:
        raise ApiProblem("unavailable", str(exc)) from None


@router.get(
    "/v1/cities/{city}/transactions/{tx_id}/receipt",
    tags=["transparency"],
    summary="A transaction's receipt, checkable offline (its parties or the city's staff)",
    description="The transaction (exact envelope and result), its RFC 9162 inclusion proof"
    " to the latest final checkpoint that covers it (else to its own block's checkpoint),"
    " that checkpoint as a signed note with its cosignatures, and the city's operator key"
    " and witness set. Check it with `localpay verify-receipt` or tools/verify_receipt.py"
    " (docs/transparency.md).",
    responses={
        200: _ok(ReceiptOut),
        **responses("unauthenticated", "forbidden", "not_found", "unavailable"),
    },
)
def transaction_receipt(request: Request, city: str, tx_id: str) -> Any:
    principal = allow(request, lambda p: p.city == city)
    svc = _city(request, city)
    tx = svc.store.find_tx(city, tx_id)
    if tx is None:
        raise ApiProblem("not_found", f"transaction {tx_id!r} not found in city {city!r}")
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        command = None
    named = set(machine.accounts_of(command)) if command is not None else set()
    if not access.reads_transaction(principal, city, named):
        raise ApiProblem("not_found", "no such resource")  # never confirm it exists
    try:
        return svc.receipt_for(city, tx)
    except LogMismatch as exc:
        raise ApiProblem("unavailable", str(exc)) from None
