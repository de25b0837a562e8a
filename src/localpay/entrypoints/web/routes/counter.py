"""The shop's counter screen: today's payments live, refunds, today's sales, payouts.

URLs name the merchant (`/c/{city}/counter/{merchant}/…`); only that merchant's staff
see them, anyone else gets the 404 page (deps.person). `/c/{city}/counter/` sends staff
to their own merchant's screen. Refunds and payouts go through services/counter, as
the API's do, so both make the same command for the same idempotency key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from localpay.bootstrap import Container
from localpay.domain.calendar import DAY_MS
from localpay.domain.codes import Code
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import language, page_context, say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import KST, N_
from localpay.entrypoints.web.render import ENV, page
from localpay.entrypoints.web.security import check_csrf, finish
from localpay.ledger.blocks import decode_header
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.services.cities.inspect import merchant_view, require_city
from localpay.services.counter import sales
from localpay.services.counter import service as counter
from localpay.services.counter.live import LivePayments, LiveTx, TooManyScreens, live_tx
from localpay.services.identity import access
from localpay.services.identity.service import MERCHANT_ROLES, SESSION_COOKIE, Principal

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: Rows on the screen (the day's totals count every transaction of the day).
SHOWN: Final = 50
#: How soon a browser reconnects after the stream ends (a dropped, slow screen).
RETRY_MS: Final = 2_000
BUSY_RETRY_MS: Final = 60_000
#: How often an idle stream checks that its session is still valid.
SESSION_CHECK_S: Final = 60.0
TX_ID: Final = re.compile(r"[0-9a-f]{32}")


# -- who and what ---------------------------------------------------------------------------


def _staff(request: Request, city: str, merchant: str) -> Principal:
    """Owner or cashier of this merchant (refunds_for), else the 404 page."""
    return person(request, city, lambda p: _is_staff(p) and access.refunds_for(p, city, merchant))


def _owner(request: Request, city: str, merchant: str) -> Principal:
    return person(request, city, lambda p: access.pays_out(p, city, merchant))


def _is_staff(p: Principal) -> bool:
    # People only: a merchant's API key has no pages.
    return p.role in MERCHANT_ROLES and p.role != "merchant_api"


def _hub(box: Container) -> LivePayments:
    """The container's hub (registered by Container.start); one made here otherwise, for
    an app over a container that was not started (it sees sequencers started later)."""
    found: LivePayments | None = getattr(box, "live_payments", None)
    if found is None:
        found = box.live_payments = LivePayments()
        box.ledgers.observers.append(found)
    return found


def _times(request: Request) -> sales.BlockTimes:
    state = request.app.state
    found: sales.BlockTimes | None = getattr(state, "counter_times", None)
    if found is None:
        found = state.counter_times = sales.BlockTimes(container(request).store)
    return found


def shop_name(request: Request, city: str, merchant: str) -> str:
    """The shop's name from the directory in the page's language (its id until the
    directory names it)."""
    shop = container(request).directory.shop(city, merchant)
    if shop is None:
        return merchant
    return shop.name_en if language(request) == "en" and shop.name_en else shop.name


def _base(request: Request, city: str, merchant: str, staff: Principal) -> dict[str, Any]:
    return {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": access.pays_out(staff, city, merchant),
        "home": f"/c/{city}/counter/{merchant}/",
    }


# -- the screen -----------------------------------------------------------------------------


@router.get("/c/{city}/counter/")
def counter_home(request: Request, city: str) -> Response:
    city_of(request, city)
    staff = person(request, city, lambda p: _is_staff(p) and p.merchant is not None)
    return RedirectResponse(f"/c/{city}/counter/{staff.merchant}/", status_code=303)


def _today(
    request: Request, city: str, merchant: str, extra: list[LiveTx] | None = None
) -> dict[str, Any]:
    box = container(request)
    events, complete = sales.today(
        box.store,
        box.history,
        _times(request),
        city,
        merchant,
        box.clock(),
        also=[*_hub(box).recent(city, merchant), *(extra or [])],
    )
    return {
        "sales": sales.sales_of(events, complete),
        "balance": merchant_view(box.store, city, merchant).balance,
        "events": events,
    }


def _last_seq(store: Store, city: str) -> int:
    head = store.head(city)
    return decode_header(head.header_bytes).log_size - 1 if head is not None else -1


def _row(event: LiveTx, left: int | None) -> dict[str, Any]:
    """A row of today's list: the clock time alone (the date is today's, in Korea)."""
    moment = dt.datetime.fromtimestamp(event.time_ms / 1000, KST)
    return {"e": event, "left": left, "clock": moment.strftime("%H:%M"), "iso": moment.isoformat()}


def _rows(request: Request, city: str, merchant: str, events: list[LiveTx]) -> list[dict[str, Any]]:
    store = container(request).store
    rows = []
    for event in events[:SHOWN]:
        left = None
        if event.kind == "pay":
            record = sales.payment(store, city, merchant, event.id)
            left = record.amount - record.refunded if record is not None else 0
        rows.append(_row(event, left))
    return rows


@router.get("/c/{city}/counter/{merchant}/")
def screen(request: Request, city: str, merchant: str, refunded: str = "") -> Response:
    staff = _staff(request, city, merchant)
    box = container(request)
    done = []
    if TX_ID.fullmatch(refunded):
        done = [e for e in sales.just_made(box.store, _times(request), city, merchant, refunded)]
        done = [e for e in done if e.kind == "refund"]
    today = _today(request, city, merchant, done)
    events = today["events"]
    # Resume the live stream from what this page shows: nothing falls in between.
    after = max([e.seq for e in events] + [_last_seq(box.store, city)])
    context = {
        **_base(request, city, merchant, staff),
        **today,
        "rows": _rows(request, city, merchant, events),
        "after": after,
        "done": done[0] if done else None,
    }
    return page(request, "counter/screen.html", context)


@router.get("/c/{city}/counter/{merchant}/sales")
def sales_block(request: Request, city: str, merchant: str) -> Response:
    """Today's sales alone (htmx refreshes it on each live event)."""
    staff = _staff(request, city, merchant)
    context = {**_base(request, city, merchant, staff), **_today(request, city, merchant)}
    return page(request, "counter/screen.html", context, block="sales")


# -- live events ----------------------------------------------------------------------------


def _watcher(request: Request, city: str, merchant: str) -> Principal:
    # A dependency, so a refusal is the 404 page before any stream starts.
    return _staff(request, city, merchant)


def _still_signed_in(request: Request, staff: Principal) -> bool:
    """A stream outlives its request's check: is its session still this person's?"""
    token = request.cookies.get(SESSION_COOKIE)
    found = container(request).identity.authenticate(token) if token else None
    return found is not None and found.id == staff.id


def _resume_point(request: Request, after: str) -> int | None:
    """The last seq the screen has: the browser's Last-Event-ID on a reconnect, else the
    page's `after`. Anything not a number is ignored (the stream then starts from now)."""
    for given in (request.headers.get("last-event-id", ""), after):
        if given.isdigit() and len(given) < 19:
            return int(given)
    return None


def _event_html(context: dict[str, Any], event: LiveTx) -> ServerSentEvent:
    row = _row(event, event.amount if event.kind == "pay" else None)
    html = ENV.get_template("counter/_row.html").render(**context, row=row)
    return ServerSentEvent(raw_data=html, event="payment", id=str(event.seq))


@router.get("/c/{city}/counter/{merchant}/events", response_class=EventSourceResponse)
async def events(
    request: Request,
    city: str,
    merchant: str,
    staff: Annotated[Principal, Depends(_watcher)],
    after: str = "",
) -> AsyncIterator[ServerSentEvent]:
    """This merchant's payments and refunds as they commit, each a row of the screen
    (event `payment`, id = its seq). Stops when the hub drops this screen for falling
    behind; the browser reconnects with Last-Event-ID and gets what it missed."""
    box = container(request)
    hub = _hub(box)
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    last = _resume_point(request, after)
    context = {**page_context(request), **_base(request, city, merchant, staff)}

    def wake() -> None:  # from the sequencer's thread: never blocks
        loop.call_soon_threadsafe(ready.set)

    try:
        subscription = hub.subscribe(city, merchant, wake, last)
    except TooManyScreens:  # a loop somewhere: let it come back much later
        yield ServerSentEvent(comment="busy", retry=BUSY_RETRY_MS)
        return
    try:
        yield ServerSentEvent(comment="open", retry=RETRY_MS)
        pending = subscription.take(hub)
        if last is not None:
            times = _times(request)
            missed = await run_in_threadpool(sales.since, box.history, times, city, merchant, last)
            pending = list({e.seq: e for e in [*missed, *pending]}.values())
        while True:
            for event in sorted(pending, key=lambda e: e.seq):
                if last is None or event.seq > last:
                    yield _event_html(context, event)
                    last = event.seq
            if subscription.dropped:
                return  # the browser reconnects, from `last`
            try:
                await asyncio.wait_for(ready.wait(), SESSION_CHECK_S)
            except TimeoutError:
                if not await run_in_threadpool(_still_signed_in, request, staff):
                    return  # signed out or expired: the reconnect meets the sign-in
            ready.clear()
            pending = subscription.take(hub)
    finally:
        hub.unsubscribe(subscription)


# -- refunds --------------------------------------------------------------------------------


def _payment_of(request: Request, city: str, merchant: str, payment: str) -> dict[str, Any]:
    """The payment to refund: its amount and what is left, or the page's error."""
    box = container(request)
    if not TX_ID.fullmatch(payment):
        raise PageError(404, N_("There is no such page."))
    tx = box.store.find_tx(city, payment)
    event = live_tx(tx, _times(request).time_ms(city, tx.height), merchant) if tx else None
    if event is None or event.kind != "pay":
        raise PageError(404, N_("There is no such page."))
    record = sales.payment(box.store, city, merchant, payment)
    return {
        "payment": event,
        "left": record.amount - record.refunded if record is not None else 0,
        "open": record is not None and not _window_closed(request, city, record.at_ms),
    }


def _window_closed(request: Request, city: str, paid_ms: int) -> bool:
    """As the ledger decides it (CityState.refundable), to say so before trying."""
    box = container(request)
    window_ms = require_city(box.store, city).refund_window_days * DAY_MS
    return box.clock() >= paid_ms + window_ms


@router.get("/c/{city}/counter/{merchant}/payments/{payment}/refund")
def refund_form(request: Request, city: str, merchant: str, payment: str) -> Response:
    staff = _staff(request, city, merchant)
    found = _payment_of(request, city, merchant, payment)
    context = {
        **_base(request, city, merchant, staff),
        **found,
        "amount": found["left"],
        "key": str(uuid.uuid4()),
        "error": _refusal_before(request, found),
    }
    return page(request, "counter/refund.html", context)


def _refusal_before(request: Request, found: dict[str, Any]) -> str | None:
    if not found["open"]:
        return say(request, "This payment is past the refund period and cannot be refunded.")
    if found["left"] <= 0:
        return say(request, "This payment has already been refunded in full.")
    return None


@router.post("/c/{city}/counter/{merchant}/payments/{payment}/refund")
async def refund(request: Request, city: str, merchant: str, payment: str, _: Csrf) -> Response:
    staff = _staff(request, city, merchant)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    found = await run_in_threadpool(_payment_of, request, city, merchant, payment)
    context = {**_base(request, city, merchant, staff), **found, "key": key}
    confirmed = forms.text(form, "confirm") == "yes"
    # On the confirmation the ledger decides alone: a form sent twice (the same key) must
    # get the first answer, not "already refunded".
    error = None if confirmed else _refusal_before(request, found)
    if error is None and amount is None:
        error = say(request, "Enter the amount in whole won, for example 12000.")
    elif error is None and not confirmed and amount is not None and amount > found["left"]:
        error = say(request, "The refund is more than what is left of this payment.")
    if error is not None:
        context |= {"amount": amount or found["left"], "error": error}
        return page(request, "counter/refund.html", context, status=422)
    assert amount is not None
    if not confirmed:  # first the review, then the refund
        return page(request, "counter/refund.html", {**context, "amount": amount, "review": True})
    box = container(request)
    receipt = await run_in_threadpool(
        _run, lambda: counter.refund(box.ledgers, staff, merchant, payment, amount, key)
    )
    if receipt.ok:
        target = f"/c/{city}/counter/{merchant}/?refunded={receipt.id}"
        return finish(request, RedirectResponse(target, status_code=303))
    context |= {"amount": amount, "error": _refund_refused(request, receipt, found["left"])}
    return page(request, "counter/refund.html", context, status=409)


def _run(call: Callable[[], Receipt]) -> Receipt:
    try:
        return call()
    except TimeoutError:
        # The command may still land: the same form (same key) gets its one answer.
        raise PageError(503, N_("The service is busy. Please try again in a moment.")) from None


def _refund_refused(request: Request, receipt: Receipt, left: int) -> str:
    code = receipt.code
    if code == Code.REFUND_EXCEEDS_PAYMENT and left <= 0:
        return say(request, "This payment has already been refunded in full.")
    return say(request, _REFUSALS.get(code, _REFUSED))


_REFUSED: Final = N_("The ledger refused this. Nothing was changed.")
_REFUSALS: Final[dict[str, str]] = {
    Code.REFUND_EXCEEDS_PAYMENT: N_("The refund is more than what is left of this payment."),
    Code.REFUND_WINDOW_CLOSED: N_("This payment is past the refund period and cannot be refunded."),
    Code.INSUFFICIENT_FUNDS: N_("The shop's balance is not enough for this refund."),
    Code.PAYMENT_NOT_FOUND: N_("There is no such payment at this shop."),
    Code.INVALID_AMOUNT: N_("Enter the amount in whole won, for example 12000."),
    Code.MERCHANT_NOT_ACTIVE: N_("This shop is suspended. Ask the city office."),
}


# -- payouts (owner only) -------------------------------------------------------------------


@router.api_route("/c/{city}/counter/{merchant}/payouts", methods=["GET", "POST"])
def payouts_moved(request: Request, city: str, merchant: str) -> Response:
    """The old payouts page (a Redeem: units burned with no won leaving the trust account)
    is now the payouts to the bank (routes/counter_payouts.py). Its owner is sent there;
    anyone else still gets the 404 page, so the old address confirms nothing."""
    _owner(request, city, merchant)
    return RedirectResponse(f"/c/{city}/counter/payouts", status_code=303)
