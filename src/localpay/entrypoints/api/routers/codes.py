"""The customer-presented one-time code (변동형 QR + barcode) over HTTP.

- The wallet's signed PresentCode (the code's hash and a cap; the digits never leave the
  wallet but on its screen) goes to `POST /v1/cities/{city}/presented-codes`, a signed-
  command route of routers/commands.py like every other.
- `GET /v1/cities/{city}/presented-codes/{code}`: the code's state by its hash, for its
  wallet.
- `POST /v1/cities/{city}/merchants/{merchant}/codes/claim`: a POS captures an amount with
  the digits it scanned, with the merchant's API key (or a staff session); the server
  signs the ClaimCode with the merchant's custodial key. The digits travel in the body
  only, never in a URL (URLs are logged).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.entrypoints.api.deps import allow, container_of, ledgers_of, transparency_of
from localpay.entrypoints.api.problems import MEDIA_TYPE, ApiProblem, problem, responses
from localpay.entrypoints.api.routers.commands import ledger_errors, receipt_response
from localpay.entrypoints.api.schemas import RECEIPT_SCHEMA
from localpay.services.identity import access
from localpay.services.payments.qr import code_claims
from localpay.services.payments.qr.codes import CodeMalformed, is_hash

log = structlog.get_logger("localpay.entrypoints.api")
router = APIRouter()

Won = Annotated[StrictInt, Field(gt=0, le=10_000_000_000)]

#: Problems this router gives itself, beside the API's and the ledger's (problems.py).
_OWN: Final = {
    "code_malformed": (422, "not a customer code (20 digits)"),
    "code_not_found": (404, "no such customer code"),
}


class ClaimIn(BaseModel):
    code: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="the customer's code as scanned or typed: 20 digits (spaces and"
            " dashes between groups are ignored)",
        ),
    ]
    amount: Won


class CodeState(BaseModel):
    code: str = Field(description="the code's hash, as on the chain")
    wallet: str
    cap: int = Field(description="the most a shop may capture, in won")
    state: str = Field(description="open, used or expired")
    left_ms: int = Field(description="milliseconds until it expires (0 once used or expired)")
    payment: str = Field("", description="the capture's id once used (the payment's id)")
    merchant: str = ""
    amount: int = 0


_PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}


def _own_problem(code: str, detail: str) -> Response:
    status, title = _OWN[code]
    return problem(status, code, title, detail)


def _documented(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: the API's and the ledger's problems, and this router's own."""
    out = responses(*(c for c in codes if c not in _OWN))
    for code in (c for c in codes if c in _OWN):
        entry = out.setdefault(
            _OWN[code][0],
            {
                "description": "",
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out


@router.get(
    "/v1/cities/{city}/presented-codes/{code}",
    tags=["wallets"],
    summary="A presented code's state by its hash (its wallet only)",
    response_model=CodeState,
    responses=_documented("unauthenticated", "not_found"),
)
def code_state(request: Request, city: str, code: str) -> CodeState:
    # Anyone else, and a hash nobody presented, get the same 404: a code's existence is
    # its wallet's business.
    viewer = allow(request, lambda p: p.city == city and p.role == "citizen")
    box = container_of(request)
    try:
        seen = code_claims.status(box.store, city, code, box.clock()) if is_hash(code) else None
    except code_claims.CodeNotFound:
        seen = None
    if seen is None or seen.wallet != viewer.wallet:
        raise ApiProblem("not_found", "no such code of this wallet")
    return CodeState(
        code=code,
        wallet=seen.wallet,
        cap=seen.cap,
        state=seen.state,
        left_ms=seen.left_ms,
        payment=seen.payment,
        merchant=seen.merchant,
        amount=seen.amount,
    )


@router.post(
    "/v1/cities/{city}/merchants/{merchant}/codes/claim",
    status_code=201,
    response_class=Response,
    tags=["merchants"],
    summary="Capture an amount with a customer's one-time code (owner, cashier or API key)",
    responses={
        201: {
            "description": "paid; the block is durable",
            "content": {"application/json": {"schema": RECEIPT_SCHEMA}},
        },
        **_documented(
            "unauthenticated",
            "forbidden",
            "not_found",
            "validation_failed",
            "unavailable",
            "code_malformed",
            "code_not_found",
            "code_used",
            "code_expired",
            "code_cap_exceeded",
            "insufficient_funds",
            "merchant_not_active",
            "category_denied",
            "area_denied",
            "per_payment_limit_exceeded",
            "daily_limit_exceeded",
            "monthly_limit_exceeded",
        ),
    },
)
def claim_code(request: Request, city: str, merchant: str, body: ClaimIn) -> Response:
    staff = allow(request, lambda p: access.refunds_for(p, city, merchant))
    # The middleware refuses a POST without a well-formed key before it gets here.
    key = request.headers["idempotency-key"]
    ledgers = ledgers_of(request)
    with ledger_errors():
        try:
            receipt = code_claims.claim(ledgers, staff, merchant, body.code, body.amount, key)
        except CodeMalformed as exc:
            return _own_problem("code_malformed", str(exc))
        except code_claims.CodeNotFound as exc:
            return _own_problem("code_not_found", str(exc))
        except code_claims.MerchantKeyMissing as exc:  # before ledger_errors' MissingKey
            log.error("merchant_key_missing", city=city, merchant=merchant, error=str(exc))
            raise ApiProblem(
                "unavailable",
                "this server cannot sign for the merchant now; the operator has been alerted",
                {"Retry-After": "60"},
            ) from None
    # The shop sees its own balance after the capture, never the customer's.
    return receipt_response(transparency_of(request), city, receipt, viewer=merchant)
