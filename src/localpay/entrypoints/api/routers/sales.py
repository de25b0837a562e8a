"""Sales (구매/충전): programs on sale and their live budget, a wallet's room, orders with
their deposit instructions, the bank's deposit notices, cancellations and refunds, and
a wallet's purchases and pending payouts. docs/sales.md has the flow and the rules.

A wallet's own figures (room, purchases, payouts) go only to that wallet's session;
anyone else gets 404, so a wallet id never confirms anything to another tenant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from localpay.bootstrap import Container
from localpay.domain.codes import REASONS, Code
from localpay.domain.errors import NotFound
from localpay.entrypoints.api.deps import ContainerDep, container_of, known_city, principal_of
from localpay.entrypoints.api.problems import MEDIA_TYPE, ApiProblem, ledger_problem, problem
from localpay.entrypoints.api.routers.commands import ledger_errors, submit
from localpay.entrypoints.api.routers.waiting import ticket_of as queue_ticket
from localpay.entrypoints.api.schemas import ENVELOPE_SCHEMA
from localpay.ledger.receipt import Receipt
from localpay.services.identity import access
from localpay.services.sales import notices
from localpay.services.sales.live import LiveBudgets
from localpay.services.sales.purchases import PurchaseLine, payouts, purchases
from localpay.services.sales.service import NotAnOrder, OrderAnswer, QueueRequired, Sales
from localpay.services.sales.stream import changes

router = APIRouter(tags=["sales"])

#: How often an idle budget stream says it is alive (seconds).
KEEPALIVE_S: Final = 15.0
RETRY_MS: Final = 3000
#: The waiting room's ticket (routers/waiting.py reads it, or its cookie).
TICKET_HEADER: Final = "X-Queue-Ticket"


def _problem_doc(status: int, codes: str) -> dict[str, Any]:
    return {
        "description": codes,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# -- response models -------------------------------------------------------------------------


class ProgramOnSale(BaseModel):
    program: str
    name: str
    mode: str
    rate_bp: int
    monthly_limit: int
    holding_limit: int
    discount_cap: int
    when_budget_out: str
    budget: int
    reserved: int
    sold: int
    bonus: int


class SalesList(BaseModel):
    items: list[ProgramOnSale]


class SaleRoomModel(BaseModel):
    """-1 where the program sets no such limit."""

    program: str
    rate_bp: int
    monthly_limit: int
    monthly_room: int
    holding_limit: int
    holding_room: int
    discount_cap: int
    discount_room: int
    budget: int


class DepositModel(BaseModel):
    account: str
    amount: int
    deadline_ms: int
    bank: str


class OrderModel(BaseModel):
    id: str
    code: str
    seq: int | None = None
    height: int | None = None
    duplicate: bool = False
    amount: int
    discount: int
    deposit: DepositModel


class PayoutModel(BaseModel):
    id: str
    amount: int
    reason: str
    at_ms: int
    status: str


class PurchaseModel(BaseModel):
    id: str
    program: str
    amount: int
    discount: int
    status: str
    ordered_ms: int
    deadline_ms: int
    paid_ms: int
    left: int
    cancellable_until_ms: int | None
    refundable: bool
    account: str | None
    payout: PayoutModel | None


class Purchases(BaseModel):
    items: list[PurchaseModel]


class Payouts(BaseModel):
    items: list[PayoutModel]


# -- helpers -----------------------------------------------------------------------------------


def _sales(container: Container) -> Sales:
    found: Sales | None = getattr(container, "sales", None)
    if found is None:
        raise ApiProblem("unavailable", "this server runs no sales", {"Retry-After": "5"})
    return found


def _own_wallet(request: Request, city: str, wallet: str) -> None:
    """Only the wallet's own session; 401 for nobody, 404 for anyone else."""
    principal = principal_of(request)
    if principal is None:
        raise ApiProblem("unauthenticated", "sign in with the wallet's key")
    if access.own_account(principal, city) != wallet or principal.role != "citizen":
        raise ApiProblem("not_found", "no such resource")


def _payout(found: Any) -> PayoutModel | None:
    if found is None:
        return None
    return PayoutModel(
        id=found.id,
        amount=found.amount,
        reason=found.reason,
        at_ms=found.at_ms,
        status=found.status,
    )


def _purchase(line: PurchaseLine) -> PurchaseModel:
    return PurchaseModel(
        id=line.id,
        program=line.program,
        amount=line.amount,
        discount=line.bonus,
        status=line.status,
        ordered_ms=line.ordered_ms,
        deadline_ms=line.deadline_ms,
        paid_ms=line.paid_ms,
        left=line.left,
        cancellable_until_ms=line.cancellable_until_ms,
        refundable=line.refundable,
        account=line.account,
        payout=_payout(line.payout),
    )


# -- public: what is on sale -----------------------------------------------------------------


@router.get(
    "/v1/cities/{city}/sales",
    summary="Programs on sale: discount rate, limits, remaining budget, when it runs out",
    response_model=SalesList,
    responses={404: _problem_doc(404, "not_found")},
)
def on_sale(container: ContainerDep, city: str) -> SalesList:
    known_city(container, city)
    items = _sales(container).on_sale(city)
    return SalesList(items=[ProgramOnSale(**dataclasses.asdict(i)) for i in items])


def _program_on_sale(request: Request, city: str, program: str) -> None:
    """A dependency, so that a refusal is a 404 problem before any stream starts."""
    container = container_of(request)
    known_city(container, city)
    try:
        _sales(container).program(city, program)
    except NotFound as exc:
        raise ApiProblem("not_found", str(exc)) from None


def _budget_event(budget: Any) -> ServerSentEvent:
    data = orjson.dumps(
        {"program": budget.program, "budget": budget.budget, "reserved": budget.reserved}
    ).decode()
    return ServerSentEvent(raw_data=data, event="budget", id=str(budget.seq))


@router.get(
    "/v1/cities/{city}/sales/{program}/budget/events",
    summary="The program's remaining discount budget, live (SSE: event `budget` after each change)",
    response_class=EventSourceResponse,
    responses={404: _problem_doc(404, "not_found")},
)
async def budget_events(
    request: Request, city: str, program: str, _: Annotated[None, Depends(_program_on_sale)]
) -> AsyncIterator[ServerSentEvent]:
    hub: LiveBudgets = container_of(request).sale_budgets
    yield ServerSentEvent(comment="open", retry=RETRY_MS)
    async for budget in changes(hub, city, program, KEEPALIVE_S, request.is_disconnected):
        yield ServerSentEvent(comment="alive") if budget is None else _budget_event(budget)


# -- the wallet's own ----------------------------------------------------------------------------

_OWN: dict[int | str, dict[str, Any]] = {
    401: _problem_doc(401, "unauthenticated"),
    404: _problem_doc(404, "not_found"),
}


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/sale-room",
    summary="What this wallet may still buy this month: monthly, holding and discount room",
    response_model=SaleRoomModel,
    responses=_OWN,
)
def sale_room(
    request: Request, container: ContainerDep, city: str, wallet: str, program: str = "general"
) -> SaleRoomModel:
    known_city(container, city)
    _own_wallet(request, city, wallet)
    sales = _sales(container)
    room = sales.room(city, wallet, program)
    budget = sales.program(city, program).budget
    return SaleRoomModel(**dataclasses.asdict(room), budget=budget)


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/purchases",
    summary="The wallet's purchases: status, what is left, cancellable until, refundable",
    response_model=Purchases,
    responses=_OWN,
)
def wallet_purchases(
    request: Request, container: ContainerDep, city: str, wallet: str
) -> Purchases:
    known_city(container, city)
    _own_wallet(request, city, wallet)
    return Purchases(items=[_purchase(p) for p in purchases(_sales(container), city, wallet)])


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/payouts",
    summary="Won owed back to the wallet's owner (cancellations, refunds, expiry): pending",
    response_model=Payouts,
    responses=_OWN,
)
def wallet_payouts(request: Request, container: ContainerDep, city: str, wallet: str) -> Payouts:
    known_city(container, city)
    _own_wallet(request, city, wallet)
    lines = purchases(_sales(container), city, wallet)
    return Payouts(items=[m for m in (_payout(p) for p in payouts(lines)) if m is not None])


# -- orders ------------------------------------------------------------------------------------

_ORDER_ERRORS: Final = (
    "malformed, not_canonical, wrong_city, signature_invalid, wrong_command_type,"
    " queue_required; ledger refusals with `limit` and `room`: purchase_limit_exceeded,"
    " holding_limit_exceeded, sale_budget_exhausted, not_for_sale, program_expired,"
    " lot_limit_exceeded, account_not_found, signer_not_authorized, program_not_found,"
    " invalid_amount, id_reused"
)


def _order_answer(answer: OrderAnswer) -> Response:
    receipt = answer.receipt
    if not receipt.ok:
        extra: dict[str, Any] = {"receipt": {"id": receipt.id, "seq": receipt.seq}}
        if answer.limit is not None:
            extra.update(limit=answer.limit, room=answer.room)
        return ledger_problem(receipt.code, receipt.message, **extra)
    assert answer.deposit is not None
    body = OrderModel(
        id=receipt.id,
        code=receipt.code,
        seq=receipt.seq,
        height=receipt.height,
        duplicate=receipt.duplicate,
        amount=answer.deposit.amount,
        discount=answer.bonus,
        deposit=DepositModel(
            account=answer.deposit.account,
            amount=answer.deposit.amount,
            deadline_ms=answer.deposit.deadline_ms,
            bank=answer.deposit.bank,
        ),
    )
    return Response(body.model_dump_json(), status_code=201, media_type="application/json")


@router.post(
    "/v1/cities/{city}/sales/orders",
    summary="Order a purchase (signed order_purchase): receipt and deposit instructions",
    status_code=201,
    response_model=OrderModel,
    responses={
        400: _problem_doc(400, _ORDER_ERRORS),
        404: _problem_doc(404, "city_not_found, account_not_found, program_not_found"),
        409: _problem_doc(409, "queue_required, sale_budget_exhausted"),
        422: _problem_doc(422, _ORDER_ERRORS),
        503: _problem_doc(503, "unavailable (the ledger or the bank)"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
        }
    },
)
async def order(
    request: Request,
    city: str,
    ticket: Annotated[
        str | None,
        Header(alias=TICKET_HEADER, description="the waiting room's ticket, during an opening"),
    ] = None,
) -> Response:
    container = container_of(request)
    if not container.has_city(city):
        return ledger_problem(Code.CITY_NOT_FOUND, f"no city {city!r} here")
    body = await request.body()
    sales = _sales(container)
    try:
        with ledger_errors():
            answer = await run_in_threadpool(
                sales.order, city, body, lambda program: queue_ticket(request, program)
            )
    except QueueRequired as exc:
        return problem(409, "queue_required", "take a place in the waiting room first", str(exc))
    except NotAnOrder as exc:
        raise ApiProblem("wrong_command_type", str(exc)) from None
    return _order_answer(answer)


def _money_back(kind: str, summary: str) -> None:
    kinds = frozenset({kind})

    async def endpoint(request: Request, city: str) -> Response:
        return await submit(request, await request.body(), city, kinds)

    endpoint.__name__ = f"post_{kind}"
    router.add_api_route(
        f"/v1/cities/{{city}}/sales/{'cancellations' if kind == 'cancel_purchase' else 'refunds'}",
        endpoint,
        methods=["POST"],
        summary=summary,
        status_code=201,
        response_class=Response,
        responses={
            201: {"description": "applied; the pending payout is listed under .../payouts"},
            400: _problem_doc(400, "malformed, not_canonical, wrong_city, signature_invalid"),
            403: _problem_doc(403, "signer_not_authorized, unknown_signer"),
            409: _problem_doc(
                409,
                "cancel_window_closed, purchase_used, refund_threshold_not_met, purchase_closed",
            ),
            404: _problem_doc(404, "purchase_not_found, account_not_found"),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
            }
        },
    )


_money_back("cancel_purchase", "Cancel an unused purchase within its days (signed by the wallet)")
_money_back(
    "refund_balance", "Refund the rest of a purchase once enough is used (signed by the wallet)"
)


# -- the bank's webhook ----------------------------------------------------------------------------


@router.post(
    "/v1/bank/deposits",
    summary="The bank's deposit notice (HMAC-SHA256 in X-Bank-Signature; no session)",
    status_code=200,
    responses={
        200: {"description": "booked (or booked before: the same receipt)"},
        401: _problem_doc(401, "bank_signature_invalid"),
        404: _problem_doc(404, "not_found (no order has that virtual account)"),
        422: _problem_doc(422, "bank_notice_invalid; deposit_mismatch"),
        503: _problem_doc(503, "unavailable: the bank retries"),
    },
)
async def deposit_notice(
    request: Request,
    signature: Annotated[str | None, Header(alias=notices.SIGNATURE_HEADER)] = None,
) -> Response:
    sales = _sales(container_of(request))
    body = await request.body()
    try:
        with ledger_errors():
            receipt: Receipt = await run_in_threadpool(sales.on_deposit, body, signature)
    except notices.BadNoticeSignature as exc:
        return problem(401, exc.code, "the notice is not signed by the bank", str(exc))
    except notices.BadNotice as exc:
        return problem(422, exc.code, "not a deposit notice", str(exc))
    except NotFound as exc:
        return problem(404, "not_found", "no such resource", str(exc))
    fields = {"id": receipt.id, "code": receipt.code, "duplicate": receipt.duplicate}
    if receipt.seq is not None:
        # The ledger's answer is on the chain (booked, or refused for good, e.g. a deposit
        # that does not match its order): the bank may stop sending this notice.
        return Response(orjson.dumps(fields), status_code=200, media_type="application/json")
    return ledger_problem(receipt.code, REASONS[Code(receipt.code)], receipt=fields)
