"""Dynamic merchant QR codes: payment requests made by a counter or a POS, paid by a wallet.

A shop's staff or its POS (a merchant API key) creates a request for an amount and shows its
`payload` as a QR; it polls the request's status (open, paid, expired). The wallet that
scanned it posts its signed Pay (evidence `qr:<reference>`) to the request's `pay`: the
request is checked and claimed for that Pay before the ledger sees it
(services/payments/qr/requests.py). docs/qr.md, "Paying by QR", has the flow.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from localpay.domain.codes import Code
from localpay.domain.commands import DecodeError, Pay, decode_envelope
from localpay.domain.errors import LocalpayError
from localpay.domain.limits import AMOUNT_MAX, COMMAND_BYTES_MAX
from localpay.entrypoints.api.deps import (
    allow,
    container_of,
    known_city,
    principal_of,
    transparency_of,
)
from localpay.entrypoints.api.problems import (
    MEDIA_TYPE,
    ApiProblem,
    error_problem,
    ledger_problem,
    problem,
    responses,
)
from localpay.entrypoints.api.routers.commands import (
    await_ticket,
    ledger_errors,
    receipt_response,
)
from localpay.entrypoints.api.schemas import ENVELOPE_SCHEMA, RECEIPT_SCHEMA
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.services.cities.inspect import wallet_view
from localpay.services.identity import access
from localpay.services.identity.service import MERCHANT_ROLES, Principal
from localpay.services.payments.qr import requests as qr
from localpay.services.payments.qr.requests import QrRequest, QrRequests

router = APIRouter(tags=["qr"])

Reference = Annotated[str, Path(pattern=r"^[A-Z2-7]{16}$", description="the request's reference")]

#: The problems of this router that the API's shared table does not know: code -> status,
#: title (RFC 9457). `detail` says the reason in a sentence.
PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    qr.RequestNotFound.code: (404, "no such payment request"),
    qr.RequestExpired.code: (410, "the payment request expired"),
    qr.RequestPaid.code: (409, "the payment request was already paid"),
    qr.PaymentMismatch.code: (422, "the signed payment is not the one requested"),
    qr.BadAmount.code: (422, "the amount is not a whole number of won in range"),
}


def _documented(*codes: str) -> dict[int | str, dict[str, Any]]:
    out = responses(*(c for c in codes if c not in PROBLEMS))
    for code in (c for c in codes if c in PROBLEMS):
        status = PROBLEMS[code][0]
        entry = out.setdefault(
            status,
            {
                "description": "",
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out


def _problem(exc: LocalpayError) -> Response:
    if exc.code in PROBLEMS:
        status, title = PROBLEMS[exc.code]
        return problem(status, exc.code, title, str(exc))
    if exc.code == Code.SIGNATURE_INVALID:  # the ledger's code, as the ledger would answer
        return ledger_problem(exc.code, str(exc))
    return error_problem(exc)


# -- models ------------------------------------------------------------------------------


class NewQrRequest(BaseModel):
    merchant: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{2,39}$", description="the shop")
    amount: int = Field(gt=0, le=AMOUNT_MAX, description="whole won")


class QrRequestModel(BaseModel):
    reference: str = Field(description="one-time reference (EMVCo 62/05)")
    merchant: str
    amount: int = Field(description="whole won")
    status: Literal["open", "paid", "expired"]
    created_ms: int
    expires_ms: int
    payment: str = Field(description="the Pay's command id once paid, else empty")
    payload: str = Field(description="the EMVCo payload to show as a QR (initiation 12)")


def _model(found: QrRequest) -> QrRequestModel:
    return QrRequestModel(
        reference=found.reference,
        merchant=found.merchant,
        amount=found.amount,
        status=found.status,
        created_ms=found.created_ms,
        expires_ms=found.expires_ms,
        payment=found.payment,
        payload=found.payload,
    )


def service_of(request: Request) -> QrRequests:
    found: QrRequests = container_of(request).qr_requests
    return found


def _staff_of(p: Principal, city: str) -> bool:
    return p.city == city and p.role in MERCHANT_ROLES and p.merchant is not None


# -- routes ------------------------------------------------------------------------------


@router.post(
    "/v1/cities/{city}/qr/requests",
    summary="Create a dynamic QR payment request (merchant staff or the merchant's API key)",
    status_code=201,
    response_model=QrRequestModel,
    responses=_documented(
        "unauthenticated",
        "forbidden",
        "not_found",
        "invalid_amount",
        "conflict",
        "idempotency_key_missing",
    ),
)
def create_request(request: Request, city: str, body: NewQrRequest) -> Response:
    allow(request, lambda p: access.refunds_for(p, city, body.merchant))
    known_city(container_of(request), city)
    key = request.headers.get("idempotency-key", "")
    try:
        made = service_of(request).create(city, body.merchant, body.amount, key)
    except LocalpayError as exc:
        return _problem(exc)
    return Response(_model(made).model_dump_json(), 201, media_type="application/json")


@router.get(
    "/v1/cities/{city}/qr/requests/{reference}",
    summary="A payment request's status, for the POS to poll (the merchant's staff or API key)",
    response_model=QrRequestModel,
    responses=_documented("unauthenticated", "qr_request_not_found"),
)
def get_request(request: Request, city: str, reference: Reference) -> Response:
    staff = allow(request, lambda p: _staff_of(p, city))
    try:
        found = service_of(request).get(city, reference, merchant=staff.merchant)
    except LocalpayError as exc:
        return _problem(exc)
    return Response(_model(found).model_dump_json(), media_type="application/json")


@router.post(
    "/v1/cities/{city}/qr/requests/{reference}/pay",
    summary="Pay a payment request with the wallet's signed Pay (evidence qr:<reference>)",
    status_code=201,
    response_class=Response,
    responses={
        201: {
            "description": "paid; the block is durable. `by_program`: the payer's money left per"
            " program (to the payer's own device or session only)",
            "content": {"application/json": {"schema": RECEIPT_SCHEMA}},
        },
        **_documented(
            "malformed",
            "wrong_command_type",
            "wrong_city",
            "signature_invalid",
            "body_too_large",
            "unavailable",
            "qr_request_not_found",
            "qr_request_expired",
            "qr_request_paid",
            "qr_payment_mismatch",
            "insufficient_funds",
            "merchant_not_active",
            "category_denied",
            "area_denied",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
        }
    },
)
async def pay_request(request: Request, city: str, reference: Reference) -> Response:
    data = await request.body()
    pay = _signed_pay(data, city)
    if isinstance(pay, Response):
        return pay
    box = container_of(request)
    known_city(box, city)

    async def submit(target: str, envelope: bytes) -> Receipt:
        with ledger_errors():
            return await await_ticket(
                box.ledgers.submit(target, envelope), box.ledgers.answer_timeout_s
            )

    try:
        receipt = await service_of(request).pay(city, reference, pay, data, submit)
    except LocalpayError as exc:
        return _problem(exc)
    viewer = _viewer(request, city, receipt, pay.wallet)
    answer = receipt_response(transparency_of(request), city, receipt, viewer)
    if receipt.ok and viewer == pay.wallet:
        return _with_programs(answer, box.store, city, pay.wallet)
    return answer


def _signed_pay(data: bytes, city: str) -> Pay | Response:
    """The body as a signed Pay for `city`, else the problem to answer (nothing changed)."""
    if len(data) > COMMAND_BYTES_MAX:
        raise ApiProblem("body_too_large", f"a command is at most {COMMAND_BYTES_MAX} bytes")
    try:
        _, command = decode_envelope(data)
    except DecodeError as exc:
        return ledger_problem(exc.code, str(exc))
    if not isinstance(command, Pay):
        raise ApiProblem("wrong_command_type", "expected pay")
    if command.city != city:
        return ledger_problem(Code.WRONG_CITY, f"the command is for {command.city!r}")
    return command


def _viewer(request: Request, city: str, receipt: Receipt, wallet: str) -> str | None:
    """As for any signed command: the first answer goes to the device that sent it; a
    repeat shows balances only to the payer's own signed-in session."""
    if not receipt.duplicate:
        return wallet
    return access.own_account(principal_of(request), city)


def _with_programs(answer: Response, store: Store, city: str, wallet: str) -> Response:
    body = orjson.loads(answer.body)
    body["by_program"] = msgspec.to_builtins(wallet_view(store, city, wallet).by_program)
    return Response(
        orjson.dumps(body), status_code=answer.status_code, media_type="application/json"
    )
