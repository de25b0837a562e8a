"""Operations for people who sign in: officials' proposals (maker-checker) and
merchant staff's refunds and payouts, signed by the server with custodial keys."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import msgspec
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from localpay.api.auth import allow
from localpay.api.commands import receipt_response
from localpay.api.problems import ApiProblem, responses
from localpay.api.reads import MAX_PAGE, decode_cursor, encode_cursor
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services import access
from localpay.services.ledgers import Ledgers, MissingKey, new_id
from localpay.services.proposals import PROPOSABLE, ProposalError, Proposals, merchant_key

log = structlog.get_logger("localpay.api")
router = APIRouter()

Won = Annotated[int, Field(gt=0, le=10_000_000_000)]


class Proposal(BaseModel):
    kind: Annotated[str, Field(description=f"one of {sorted(PROPOSABLE)}")]
    params: dict[str, Any] = Field(description="the command's fields except id, city and type")


class StaffRefund(BaseModel):
    payment: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    amount: Won


class Payout(BaseModel):
    amount: Won


def _proposals(request: Request) -> Proposals:
    proposals: Proposals = request.app.state.container.proposals
    return proposals


def _decided(call: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = call()
    except ProposalError as exc:
        code = exc.code if exc.code in ("not_found", "validation_failed") else "forbidden"
        if exc.code == "proposal_decided":
            code = "proposal_decided"
        raise ApiProblem(code, str(exc)) from None
    return result


_PROPOSAL_ERRORS = ("unauthenticated", "forbidden", "not_found", "validation_failed")


@router.post(
    "/v1/cities/{city}/proposals",
    status_code=201,
    tags=["officials"],
    summary="Propose an administrative action; submitted once enough officials sign",
    responses=responses(*_PROPOSAL_ERRORS),
)
def propose(request: Request, city: str, body: Proposal) -> dict[str, Any]:
    official = allow(request, lambda p: access.proposes(p, city))
    return _decided(lambda: _proposals(request).propose(official, body.kind, body.params))


@router.get(
    "/v1/cities/{city}/proposals",
    tags=["officials"],
    summary="Proposals, newest first",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def list_proposals(
    request: Request,
    city: str,
    status: str | None = Query(None, pattern="^(pending|submitted|rejected)$"),
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> dict[str, Any]:
    allow(request, lambda p: access.reads_proposals(p, city))
    items = _proposals(request).list(city, status, decode_cursor(cursor), limit)
    last = items[-1]["created_ms"] if len(items) == limit else None
    return {"items": items, "next": encode_cursor(last) if last is not None else None}


@router.get(
    "/v1/cities/{city}/proposals/{proposal}",
    tags=["officials"],
    summary="One proposal",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def get_proposal(request: Request, city: str, proposal: str) -> dict[str, Any]:
    allow(request, lambda p: access.reads_proposals(p, city))
    return _decided(lambda: _proposals(request).get(city, proposal))


@router.post(
    "/v1/cities/{city}/proposals/{proposal}/approvals",
    status_code=201,
    tags=["officials"],
    summary="Approve (check) a proposal made by another official",
    responses=responses(*_PROPOSAL_ERRORS, "proposal_decided"),
)
def approve(request: Request, city: str, proposal: str) -> dict[str, Any]:
    checker = allow(request, lambda p: access.approves(p, city))
    return _decided(lambda: _proposals(request).approve(checker, proposal))


@router.post(
    "/v1/cities/{city}/proposals/{proposal}/rejections",
    status_code=201,
    tags=["officials"],
    summary="Reject a pending proposal",
    responses=responses(*_PROPOSAL_ERRORS, "proposal_decided"),
)
def reject(request: Request, city: str, proposal: str) -> dict[str, Any]:
    checker = allow(request, lambda p: access.approves(p, city))
    return _decided(lambda: _proposals(request).reject(checker, proposal))


def _merchant_command(request: Request, city: str, merchant: str, command: c.Command) -> Response:
    ledgers: Ledgers = request.app.state.container.ledgers
    try:
        key = merchant_key(ledgers, city, merchant)
    except MissingKey as exc:
        log.error("merchant_key_missing", city=city, merchant=merchant, error=str(exc))
        raise ApiProblem(
            "unavailable",
            "this server cannot sign for the merchant now; the operator has been alerted",
            {"Retry-After": "60"},
        ) from None
    envelope = sign_command(command, [key])
    return receipt_response(request, city, ledgers.execute(city, envelope))


_STAFF_ERRORS = (
    "unauthenticated",
    "forbidden",
    "not_found",
    "validation_failed",
    "insufficient_funds",
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
    allow(request, lambda p: access.refunds_for(p, city, merchant))
    return _merchant_command(
        request,
        city,
        merchant,
        c.Refund(
            id=new_id(), city=city, merchant=merchant, payment=body.payment, amount=body.amount
        ),
    )


@router.post(
    "/v1/cities/{city}/merchants/{merchant}/payouts",
    status_code=201,
    tags=["merchants"],
    response_class=Response,
    summary="Pay the merchant's balance out in won (owner only)",
    responses=responses(*_STAFF_ERRORS),
)
def payout(request: Request, city: str, merchant: str, body: Payout) -> Response:
    allow(request, lambda p: access.pays_out(p, city, merchant))
    reference = f"payout:{secrets.token_hex(8)}"
    return _merchant_command(
        request,
        city,
        merchant,
        c.Redeem(
            id=new_id(), city=city, merchant=merchant, amount=body.amount, payout_ref=reference
        ),
    )


def receipt_json(receipt: Any) -> Any:
    return msgspec.to_builtins(receipt)
