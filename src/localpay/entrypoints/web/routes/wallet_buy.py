"""The citizen buys local currency (구매/충전) and manages purchases: the buy page (amount,
the discount as it is typed, the month's and the holding room, the live remaining
budget), the order's deposit instructions with a status that turns to "charged" when
the bank's deposit is booked, and the purchases page (cancel, refund the rest, pending
payouts). The server never signs: buy.js signs order_purchase, cancel_purchase and
refund_balance with the device's key and posts them to the API (routers/sales.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from localpay.domain.errors import NotFound
from localpay.entrypoints.web import waiting_gate
from localpay.entrypoints.web.context import language, page_context
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.outcomes import PLAIN, explain
from localpay.entrypoints.web.render import ENV, page
from localpay.entrypoints.web.routes.wallet import citizen, wallet_context
from localpay.entrypoints.web.routes.wallet_pay import is_htmx, wallet_of, whole_won
from localpay.services.identity.service import Principal
from localpay.services.sales.live import LiveBudgets
from localpay.services.sales.purchases import payouts, purchases
from localpay.services.sales.rooms import SaleRoom
from localpay.services.sales.service import ProgramSale, Sales
from localpay.services.sales.stream import changes

router = APIRouter()

#: The quick picks of the amount box (won): 10만, 30만, 50만.
QUICK_PICKS: Final = (100_000, 300_000, 500_000)
KEEPALIVE_S: Final = 15.0
#: The sale a buy page opens on when none is asked for.
DEFAULT_PROGRAM: Final = "general"


def _sales(request: Request) -> Sales:
    found: Sales | None = getattr(container(request), "sales", None)
    if found is None:
        raise PageError(503, N_("Buying is not open on this server now."))
    return found


def _on_sale(sales: Sales, city: str, program: str) -> tuple[list[ProgramSale], ProgramSale]:
    found = sales.on_sale(city)
    if not found:
        raise PageError(404, N_("Nothing is on sale now."))
    wanted = program or DEFAULT_PROGRAM
    chosen = next((p for p in found if p.program == wanted), None)
    if chosen is None and program:
        raise PageError(404, N_("There is no such program."))
    return found, chosen or found[0]


def _preview(room: SaleRoom, sale: ProgramSale, amount: int | None) -> dict[str, Any]:
    """What an order of `amount` would get, by the rules the ledger applies."""
    if amount is None:
        return {"amount": None}
    over_month = room.monthly_room != -1 and amount > room.monthly_room
    discount = room.discount_for(amount, sale.budget)
    over_holding = room.holding_room != -1 and amount + discount > room.holding_room
    return {
        "amount": amount,
        "discount": discount,
        "total": amount + discount,
        "over_month": over_month,
        "over_holding": over_holding,
        "ok": not over_month and not over_holding,
    }


def _buy_context(
    request: Request, city: str, found: Principal, program: str, amount_text: str
) -> dict[str, Any]:
    sales = _sales(request)
    programs, sale = _on_sale(sales, city, program)
    room = sales.room(city, wallet_of(found), sale.program)
    typed = amount_text.strip()[:20]
    return {
        **wallet_context(request, city),
        "wallet": wallet_of(found),
        "programs": programs,
        "sale": sale,
        "room": room,
        "amount_text": typed,
        "preview": _preview(room, sale, whole_won(typed) if typed else None),
        "quick_picks": QUICK_PICKS,
        "rate": f"{sale.rate_bp / 100:g}%",
        # The waiting room's ticket (its cookie is HttpOnly and not sent to /v1): buy.js
        # passes it on to the sales API as X-Queue-Ticket during an opening.
        "ticket": waiting_gate.ticket_of(request, sale.program) or "",
    }


@router.get("/c/{city}/wallet/buy")
def buy(request: Request, city: str, program: str = "", amount: str = "") -> Response:
    found = citizen(request, city)
    wait = waiting_gate.admission(request, city, program or DEFAULT_PROGRAM)
    if wait is not None:
        return RedirectResponse(wait, status_code=303)
    context = _buy_context(request, city, found, program, amount)
    block = "preview" if is_htmx(request) else None
    return page(request, "wallet/buy.html", context, block=block)


@router.get("/c/{city}/wallet/buy/why")
def why(
    request: Request, city: str, code: str = "", limit: int | None = None, room: int | None = None
) -> Response:
    """The plain words for a refused order (a partial), with the room left when known."""
    citizen(request, city)
    known = code if code in PLAIN or code == "queue_required" else ""
    words = explain(known, language(request), limit, room) if known != "queue_required" else ""
    return page(
        request,
        "wallet/buy_why.html",
        {**wallet_context(request, city), "code": known, "words": words},
    )


def _budget_html(request: Request, budget: int) -> ServerSentEvent:
    html = ENV.get_template("wallet/_budget.html").render(**page_context(request), budget=budget)
    return ServerSentEvent(raw_data=html, event="budget")


def _watching(request: Request, city: str, program: str) -> None:
    """A dependency, so that a refusal (sign-in, 404 page) comes before any stream starts."""
    citizen(request, city)
    try:
        _sales(request).program(city, program)
    except NotFound:
        raise PageError(404, N_("There is no such program.")) from None


@router.get("/c/{city}/wallet/buy/budget/{program}", response_class=EventSourceResponse)
async def budget_events(
    request: Request, city: str, program: str, _: Annotated[None, Depends(_watching)]
) -> AsyncIterator[ServerSentEvent]:
    """The program's remaining discount budget as it changes (htmx sse-swap "budget")."""
    hub: LiveBudgets = container(request).sale_budgets
    yield ServerSentEvent(comment="open", retry=3000)
    async for budget in changes(hub, city, program, KEEPALIVE_S, request.is_disconnected):
        yield (
            ServerSentEvent(comment="alive")
            if budget is None
            else _budget_html(request, budget.budget)
        )


@router.get("/c/{city}/wallet/buy/orders/{order}")
def order_page(request: Request, city: str, order: str) -> Response:
    """Where to pay an order, and its status (the status block polls itself while the
    won have not arrived: htmx, every 2 s)."""
    found = citizen(request, city)
    sales = _sales(request)
    placed = sales.repo.order(city, order) if len(order) == 32 else None
    if placed is None or placed.wallet != wallet_of(found):
        raise PageError(404, N_("There is no such page."))
    purchase = sales.purchase(city, order)
    context = {
        **wallet_context(request, city),
        "order": placed,
        "bank": sales.bank.name if sales.bank else "",
        "bank_page": container(request).bank_url or "",
        "status": purchase.status if purchase else "ordered",
        "balance": sales.wallet(city, placed.wallet).balance(),
    }
    block = "status" if is_htmx(request) else None
    return page(request, "wallet/buy_order.html", context, block=block)


#: A purchase's status and a payout's reason, in people's words.
STATUS_WORDS: Final = {
    "ordered": N_("Waiting for your transfer"),
    "lapsed": N_("Not paid in time: closed"),
    "paid": N_("Charged"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Rest refunded"),
}
REASON_WORDS: Final = {
    "cancelled": N_("Cancelled purchase"),
    "balance_refund": N_("Rest of a purchase"),
    "expired": N_("Expired purchased money"),
    "deposit_returned": N_("Transfer that came too late"),
}


@router.get("/c/{city}/wallet/purchases")
def purchases_page(request: Request, city: str) -> Response:
    found = citizen(request, city)
    sales = _sales(request)
    lines = purchases(sales, city, wallet_of(found))
    context = {
        **wallet_context(request, city),
        "wallet": wallet_of(found),
        "lines": lines,
        "payouts": payouts(lines),
        "status_words": STATUS_WORDS,
        "reason_words": REASON_WORDS,
    }
    return page(request, "wallet/purchases.html", context)
