"""Online checkout for malls and delivery apps (docs/integrations.md): a merchant's server
creates an intent with its API key, the citizen approves it in the wallet (the signed hold
comes to `.../approval`), the merchant captures, cancels or refunds. The merchant sees
amounts and status, never the citizen's wallet or balances.

Every write carries an Idempotency-Key (the middleware answers a repeat with the first
response); capture, cancel and refund also build their ledger command ids from it, so a
retry after a lost answer is the same command. Another merchant's intent, and any intent
of another city, is 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.domain.codes import Code
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.api.deps import allow, container_of, known_city, transparency_of
from localpay.entrypoints.api.problems import (
    LEDGER_STATUS,
    MEDIA_TYPE,
    ApiProblem,
    ledger_problem,
    problem,
)
from localpay.entrypoints.api.routers.commands import ledger_errors, receipt_response
from localpay.entrypoints.api.schemas import (
    ENVELOPE_SCHEMA,
    decode_cursor,
    encode_cursor,
)
from localpay.ledger.receipt import Receipt
from localpay.services.identity.service import MERCHANT_ROLES, Principal
from localpay.services.payments.checkout import errors as e
from localpay.services.payments.checkout.ports import STATUSES
from localpay.services.payments.checkout.service import Checkout
from localpay.services.payments.checkout.views import IntentView

router = APIRouter(tags=["checkout"])
T = TypeVar("T")

BASE: Final = "/v1/cities/{city}/checkout/intents"

#: Each checkout refusal: code -> (HTTP status, title).
PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    e.IntentNotFound.code: (404, "no such checkout intent"),
    e.IntentInvalid.code: (422, "a field of the intent is not acceptable"),
    e.IntentExpired.code: (409, "the intent was not approved in time"),
    e.IntentCancelled.code: (409, "the merchant cancelled the intent"),
    e.IntentNotApproved.code: (409, "the citizen has not approved the intent yet"),
    e.IntentNotCaptured.code: (409, "nothing of the intent was captured"),
    e.IntentCaptured.code: (409, "the intent was captured: refund it instead"),
    e.HoldMismatch.code: (422, "the signed hold does not match the intent"),
    e.SignerUnavailable.code: (503, "the server cannot sign for the merchant now"),
}


# -- request and response models ---------------------------------------------------------------


class IntentIn(BaseModel):
    amount: StrictInt = Field(description="whole won, more than 0")
    order_id: str = Field(max_length=200, description="the merchant's order id (printable ASCII)")
    return_url: str = Field(
        max_length=4000,
        description="where the citizen goes back after approving: https (or http://localhost,"
        " http://127.0.0.1 in development); `intent` and `status` are added to its query",
    )
    expires_in: StrictInt | None = Field(
        None, description="seconds to wait for approval: 60 to 86400 (default 900)"
    )
    description: str = Field("", max_length=1000, description="shown to the citizen (≤ 200)")


class CaptureIn(BaseModel):
    amount: StrictInt | None = Field(
        None, description="whole won, at most the held amount; omit to capture it all"
    )


class RefundIn(BaseModel):
    amount: StrictInt = Field(description="whole won, at most what is captured and not refunded")


class LastCommand(BaseModel):
    id: str
    code: str
    height: int | None = None
    duplicate: bool = False


class IntentOut(BaseModel):
    id: str
    object: str = "checkout_intent"
    city: str
    merchant: str
    order_id: str
    amount: int
    currency: str = "KRW"
    description: str
    status: str = Field(description=" | ".join(STATUSES))
    return_url: str
    approval_url: str = Field(description="the citizen's approval page (link or QR)")
    qr_svg_url: str = Field(description="a QR code of approval_url, as SVG")
    created_ms: int
    expires_ms: int
    payment: str = Field(description="the hold's id on the chain once approved; refunds name it")
    held: int
    captured: int
    refunded: int
    command: LastCommand | None = Field(None, description="the ledger command this request made")


class IntentList(BaseModel):
    items: list[IntentOut]
    next: str | None = Field(None, description="`cursor` of the next (older) page")


class ApprovalOut(BaseModel):
    id: str
    code: str
    status: str
    redirect: str = Field(description="the return URL with `intent` and `status`")


_API_STATUS: Final = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "validation_failed": 422,
}

# -- helpers -----------------------------------------------------------------------------------


def _doc(*codes: str) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code in PROBLEMS:
            status = PROBLEMS[code][0]
        elif code in _API_STATUS:
            status = _API_STATUS[code]
        else:  # a ledger result code
            status = LEDGER_STATUS.get(Code(code), 422)
        entry = out.setdefault(
            status,
            {
                "description": "",
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out


def _checkout(request: Request, city: str) -> Checkout:
    container = container_of(request)
    known_city(container, city)
    found: Checkout = container.checkout
    return found


def _merchant(request: Request, city: str) -> str:
    """The merchant whose server (API key) or staff calls: another city's caller is 404.
    A dependency, so the caller is checked before the body is (401/403/404 before 422)."""

    def rule(p: Principal) -> bool:
        return p.city == city and p.role in MERCHANT_ROLES and p.merchant is not None

    found = allow(request, rule).merchant
    assert found is not None
    return found


Merchant = Annotated[str, Depends(_merchant)]


def _key(request: Request) -> str:
    # The middleware refuses a POST without a well-formed key before it gets here.
    return request.headers["idempotency-key"]


def _refusal(exc: LocalpayError) -> Response:
    if isinstance(exc, e.UnreadableHold):
        return ledger_problem(exc.code, str(exc))
    status, title = PROBLEMS[exc.code]
    extra: dict[str, Any] = {"field": exc.field} if isinstance(exc, e.IntentInvalid) else {}
    headers = {"Retry-After": "60"} if status == 503 else None
    return problem(status, exc.code, title, str(exc), headers, **extra)


async def _call(call: Callable[[], T]) -> T | Response:
    """Run a service call off the event loop; a checkout refusal is its problem."""
    try:
        with ledger_errors():
            return await run_in_threadpool(call)
    except LocalpayError as exc:
        if exc.code in PROBLEMS or isinstance(exc, e.UnreadableHold):
            return _refusal(exc)
        raise


def _out(request: Request, view: IntentView, receipt: Receipt | None = None) -> IntentOut:
    page = f"{str(request.base_url).rstrip('/')}/c/{view.city}/wallet/checkout/{view.id}"
    command = None
    if receipt is not None:
        command = LastCommand(
            id=receipt.id, code=receipt.code, height=receipt.height, duplicate=receipt.duplicate
        )
    return IntentOut(
        id=view.id,
        city=view.city,
        merchant=view.merchant,
        order_id=view.order,
        amount=view.amount,
        description=view.description,
        status=view.status,
        return_url=view.return_url,
        approval_url=page,
        qr_svg_url=page + "/qr.svg",
        created_ms=view.created_ms,
        expires_ms=view.expires_ms,
        payment=view.hold,
        held=view.held,
        captured=view.captured,
        refunded=view.refunded,
        command=command,
    )


def _answer(request: Request, city: str, found: Any, status: int = 200) -> Response:
    """The intent after a merchant's command; the ledger's refusal is its problem."""
    if isinstance(found, Response):
        return found
    receipt, view = found
    if receipt is not None and not receipt.ok:
        merchant = view.merchant
        return receipt_response(transparency_of(request), city, receipt, viewer=merchant)
    body = _out(request, view, receipt).model_dump_json()
    return Response(body, status_code=status, media_type="application/json")


_WRITE: Final = (
    "unauthenticated",
    "forbidden",
    "not_found",
    "validation_failed",
    "intent_not_found",
)


# -- the merchant's server ---------------------------------------------------------------------


@router.post(
    BASE,
    status_code=201,
    summary="Create a checkout intent (merchant API key): the citizen approves it in the wallet",
    response_model=IntentOut,
    responses=_doc(
        "unauthenticated", "forbidden", "not_found", "validation_failed", "intent_invalid"
    ),
)
async def create_intent(
    request: Request, merchant: Merchant, city: str, body: IntentIn
) -> Response:
    checkout, key = _checkout(request, city), _key(request)
    found = await _call(
        lambda: checkout.create(
            city,
            merchant,
            key,
            body.amount,
            body.order_id,
            body.return_url,
            body.expires_in,
            body.description,
        )
    )
    if isinstance(found, Response):
        return found
    return Response(_out(request, found).model_dump_json(), 201, media_type="application/json")


@router.get(
    BASE,
    summary="The merchant's checkout intents, newest first (by status if asked)",
    response_model=IntentList,
    responses=_doc("unauthenticated", "forbidden", "not_found", "validation_failed"),
)
async def list_intents(
    request: Request,
    merchant: Merchant,
    city: str,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    cursor: Annotated[
        str | None, Query(max_length=80, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> IntentList:
    checkout, after = _checkout(request, city), _place(cursor)
    views, following = await run_in_threadpool(
        lambda: checkout.intents(city, merchant, status, after, limit)
    )
    place = f"{encode_cursor(following[0])}.{following[1]}" if following else None
    return IntentList(items=[_out(request, v) for v in views], next=place)


def _place(cursor: str | None) -> tuple[int, str] | None:
    """The place a `next` cursor names: the last intent seen (its time and id)."""
    if not cursor:
        return None
    when, _, intent = cursor.partition(".")
    created_ms = decode_cursor(when)
    if created_ms is None or not re.fullmatch(r"[0-9a-f]{32}", intent):
        raise ApiProblem("validation_failed", "the cursor is not one this API gave")
    return created_ms, intent


@router.get(
    BASE + "/{intent}",
    summary="One checkout intent: amounts and status",
    response_model=IntentOut,
    responses=_doc("unauthenticated", "forbidden", "intent_not_found"),
)
async def get_intent(request: Request, merchant: Merchant, city: str, intent: str) -> Response:
    checkout = _checkout(request, city)
    found = await _call(lambda: checkout.intent(city, intent, merchant))
    if isinstance(found, Response):
        return found
    return Response(_out(request, found).model_dump_json(), media_type="application/json")


@router.post(
    BASE + "/{intent}/capture",
    summary="Capture the held money, all or part (the rest goes back to the wallet at once)",
    response_model=IntentOut,
    responses=_doc(
        *_WRITE,
        "intent_not_approved",
        "intent_cancelled",
        "intent_expired",
        "merchant_key_missing",
        "capture_exceeds_hold",
        "hold_closed",
        "hold_expired",
        "invalid_amount",
    ),
)
async def capture(
    request: Request, merchant: Merchant, city: str, intent: str, body: CaptureIn
) -> Response:
    checkout, key = _checkout(request, city), _key(request)
    found = await _call(lambda: checkout.capture(city, merchant, intent, body.amount, key))
    return _answer(request, city, found)


@router.post(
    BASE + "/{intent}/cancel",
    summary="Cancel: before approval it can no longer be approved; after, the hold is released",
    response_model=IntentOut,
    responses=_doc(
        *_WRITE, "intent_expired", "intent_captured", "merchant_key_missing", "hold_closed"
    ),
)
async def cancel(request: Request, merchant: Merchant, city: str, intent: str) -> Response:
    checkout = _checkout(request, city)
    found = await _call(lambda: checkout.cancel(city, merchant, intent))
    return _answer(request, city, found)


@router.post(
    BASE + "/{intent}/refund",
    summary="Refund captured money, in part or in full, to the wallet's original lots",
    response_model=IntentOut,
    responses=_doc(
        *_WRITE,
        "intent_not_captured",
        "merchant_key_missing",
        "refund_exceeds_payment",
        "refund_window_closed",
        "invalid_amount",
    ),
)
async def refund(
    request: Request, merchant: Merchant, city: str, intent: str, body: RefundIn
) -> Response:
    checkout, key = _checkout(request, city), _key(request)
    found = await _call(lambda: checkout.refund(city, merchant, intent, body.amount, key))
    return _answer(request, city, found)


# -- the citizen's approval --------------------------------------------------------------------


@router.post(
    BASE + "/{intent}/approval",
    status_code=201,
    summary="The citizen's approval: a hold signed by the wallet naming the intent and order",
    response_model=ApprovalOut,
    responses=_doc(
        "intent_not_found",
        "hold_mismatch",
        "intent_expired",
        "intent_cancelled",
        "malformed",
        "not_canonical",
        "wrong_city",
        "signature_invalid",
        "intent_used",
        "insufficient_funds",
        "merchant_not_active",
        "category_denied",
        "signer_not_authorized",
        "unknown_signer",
        "account_not_found",
        "id_reused",
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
        }
    },
)
async def approve(request: Request, city: str, intent: str) -> Response:
    checkout, envelope = _checkout(request, city), await request.body()
    found = await _call(lambda: checkout.approve(city, intent, envelope))
    if isinstance(found, Response):
        return found
    receipt, approval = found
    if not receipt.ok:
        # The ledger's refusal (intent_used, insufficient_funds, ...), with where it sits.
        return receipt_response(transparency_of(request), city, receipt)
    body = ApprovalOut(
        id=receipt.id, code=receipt.code, status=approval.intent.status, redirect=approval.redirect
    )
    return Response(orjson.dumps(body.model_dump()), 201, media_type="application/json")
