"""Operations for people who sign in: officials' proposals (maker-checker) and
merchant staff's refunds, signed by the server with custodial keys (a shop's
payouts: routers/settlement.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.domain import commands as c
from localpay.entrypoints.api.deps import ProposalsDep, allow, ledgers_of, transparency_of
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.entrypoints.api.routers.commands import ledger_errors, receipt_response
from localpay.entrypoints.api.schemas import DEFAULT_PAGE, Limit, decode_cursor, encode_cursor
from localpay.ledger.receipt import Receipt
from localpay.services.approvals.service import PROPOSABLE, ProposalError
from localpay.services.approvals.views import ProposalView
from localpay.services.counter import service as counter
from localpay.services.counter.service import MerchantKeyMissing
from localpay.services.identity import access

log = structlog.get_logger("localpay.entrypoints.api")
router = APIRouter()

# Strict: "100", 1e3 and true are refused, as signed commands refuse them.
Won = Annotated[StrictInt, Field(gt=0, le=10_000_000_000)]


class Proposal(BaseModel):
    kind: Annotated[str, Field(description=f"one of {sorted(PROPOSABLE)}")]
    params: dict[str, Any] = Field(description="the command's fields except id, city and type")


class SignatureIn(BaseModel):
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    sig: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class ApprovalIn(BaseModel):
    signature: SignatureIn | None = Field(
        None,
        description="for an official who holds their own key: Ed25519 over"
        " 'localpay/command/v1\\n' + the proposal's `body` (omit when the server holds it)",
    )


class StaffRefund(BaseModel):
    payment: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    amount: Won


def _idempotency_key(request: Request) -> str:
    # The middleware refuses a POST without a well-formed key before it gets here.
    return request.headers["idempotency-key"]


_PASSED_THROUGH = (
    "not_found",
    "validation_failed",
    "proposal_decided",
    "proposal_unsigned",
    "idempotency_key_reused",
    "signature_required",
    "official_signature_invalid",
)


def _decided(call: Any) -> dict[str, Any]:
    try:
        with ledger_errors():
            result: ProposalView = call()
    except ProposalError as exc:
        code = exc.code if exc.code in _PASSED_THROUGH else "forbidden"
        raise ApiProblem(code, str(exc)) from None
    return dict(msgspec.to_builtins(result))


_PROPOSAL_ERRORS = ("unauthenticated", "forbidden", "not_found", "validation_failed")


@router.post(
    "/v1/cities/{city}/proposals",
    status_code=201,
    tags=["officials"],
    summary="Propose an administrative action; submitted once enough officials sign",
    responses=responses(*_PROPOSAL_ERRORS, "idempotency_key_reused", "unavailable"),
)
def propose(request: Request, proposals: ProposalsDep, city: str, body: Proposal) -> dict[str, Any]:
    official = allow(request, lambda p: access.proposes(p, city))
    key = _idempotency_key(request)
    return _decided(lambda: proposals.propose(official, body.kind, body.params, key))


@router.get(
    "/v1/cities/{city}/proposals",
    tags=["officials"],
    summary="Proposals, newest first",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def list_proposals(
    request: Request,
    proposals: ProposalsDep,
    city: str,
    status: str | None = Query(None, pattern="^(pending|submitted|rejected)$"),
    cursor: str | None = None,
    limit: Limit = DEFAULT_PAGE,
) -> dict[str, Any]:
    allow(request, lambda p: access.reads_proposals(p, city))
    items = proposals.list(city, status, _decode_place(cursor), limit)
    last = items[-1] if len(items) == limit else None
    next_place = _encode_place(last) if last is not None else None
    return {"items": msgspec.to_builtins(items), "next": next_place}


def _encode_place(item: ProposalView) -> str:
    """A cursor naming the last item seen: its time and id (ties broken by id)."""
    return encode_cursor(item.created_ms) + "." + item.id


def _decode_place(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    when, _, proposal = cursor.partition(".")
    created_ms = decode_cursor(when)
    if created_ms is None or not re.fullmatch(r"pr-[0-9a-f]{16}", proposal):
        raise ApiProblem("validation_failed", "the cursor is not one this API gave")
    return created_ms, proposal


@router.get(
    "/v1/cities/{city}/proposals/{proposal}",
    tags=["officials"],
    summary="One proposal",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def get_proposal(
    request: Request, proposals: ProposalsDep, city: str, proposal: str
) -> dict[str, Any]:
    allow(request, lambda p: access.reads_proposals(p, city))
    return _decided(lambda: proposals.get(city, proposal))


@router.post(
    "/v1/cities/{city}/proposals/{proposal}/approvals",
    status_code=201,
    tags=["officials"],
    summary="Sign a proposal: a checker's approval, or the maker's own first signature"
    " when the maker holds their key",
    responses=responses(
        *_PROPOSAL_ERRORS,
        "proposal_decided",
        "proposal_unsigned",
        "signature_required",
        "official_signature_invalid",
        "unavailable",
    ),
)
def approve(
    request: Request,
    proposals: ProposalsDep,
    city: str,
    proposal: str,
    body: ApprovalIn | None = None,
) -> dict[str, Any]:
    # Any official may sign here; the service lets only the maker (first, own key) or a
    # checker (after the maker) add a signature.
    official = allow(request, lambda p: access.proposes(p, city))
    given = (
        c.Signature(key=body.signature.key, sig=body.signature.sig)
        if body and body.signature
        else None
    )
    return _decided(lambda: proposals.approve(official, proposal, given))


@router.post(
    "/v1/cities/{city}/proposals/{proposal}/rejections",
    status_code=201,
    tags=["officials"],
    summary="Reject a pending proposal",
    responses=responses(*_PROPOSAL_ERRORS, "proposal_decided"),
)
def reject(request: Request, proposals: ProposalsDep, city: str, proposal: str) -> dict[str, Any]:
    checker = allow(request, lambda p: access.approves(p, city))
    return _decided(lambda: proposals.reject(checker, proposal))


def _merchant_command(
    request: Request, city: str, merchant: str, call: Callable[[], Receipt]
) -> Response:
    with ledger_errors():
        try:
            receipt = call()
        except MerchantKeyMissing as exc:
            log.error("merchant_key_missing", city=city, merchant=merchant, error=str(exc))
            raise ApiProblem(
                "unavailable",
                "this server cannot sign for the merchant now; the operator has been alerted",
                {"Retry-After": "60"},
            ) from None
    # Staff see their merchant's balance after a refund, never a citizen's.
    return receipt_response(transparency_of(request), city, receipt, viewer=merchant)


_STAFF_ERRORS = (
    "unauthenticated",
    "forbidden",
    "not_found",
    "validation_failed",
    "insufficient_funds",
    "id_reused",
    "unavailable",
)


@router.post(
    "/v1/cities/{city}/merchants/{merchant}/refunds",
    status_code=201,
    tags=["merchants"],
    response_class=Response,
    summary="Refund a payment (owner, cashier or the merchant's API key)",
    responses=responses(*_STAFF_ERRORS, "payment_not_found", "refund_exceeds_payment"),
)
def staff_refund(request: Request, city: str, merchant: str, body: StaffRefund) -> Response:
    staff = allow(request, lambda p: access.refunds_for(p, city, merchant))
    ledgers, key = ledgers_of(request), _idempotency_key(request)
    return _merchant_command(
        request,
        city,
        merchant,
        lambda: counter.refund(ledgers, staff, merchant, body.payment, body.amount, key),
    )


def receipt_json(receipt: Any) -> Any:
    return msgspec.to_builtins(receipt)
