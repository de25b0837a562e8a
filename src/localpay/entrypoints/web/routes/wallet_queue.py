"""The waiting room's page: `/c/{city}/wallet/buy/queue?program=`.

GET shows the visitor's place (their ticket is the cookie `localpay_queue_<program>`),
or the button that takes one; POST (CSRF-checked, with the form's idempotency key)
takes the place and sets the cookie. The place then updates live (SSE `…/events`,
htmx-ext-sse) with polling of `…/status` as the fallback. Nobody needs to be signed in
to wait, and waiting touches no session: nobody is signed out for waiting.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import wallet_context
from localpay.entrypoints.web.security import check_csrf
from localpay.entrypoints.web.waiting_gate import cookie_name, queue_url, ticket_of
from localpay.services.waiting.service import PROGRAM, SaleEnded, Status, UnknownTicket

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]
#: How often the page's fallback polls its status (the live stream says it at once).
POLL_S: Final = 10
#: How often the live stream looks at the ticket (in memory between the room's ticks).
STREAM_EVERY_S: Final = 1.0
HEARTBEAT_S: Final = 15.0
#: The ticket cookie outlives a closed browser for a day: the place is kept that long.
COOKIE_MAX_AGE_S: Final = 24 * 3600


def program_of(request: Request) -> str:
    program = request.query_params.get("program", "general")
    if not PROGRAM.fullmatch(program):
        raise PageError(404, N_("There is no such sale."))
    return program


def estimate_text(request: Request, status: Status) -> str:
    """The estimate in people's words: never more precise than it is."""
    if status.estimate_s is None:
        return say(request, "No estimate while admission is paused.")
    if status.estimate_s < 60:
        return say(request, "Less than a minute")
    return say(request, "About %(minutes)s minutes", minutes=math.ceil(status.estimate_s / 60))


def _context(request: Request, city: str, program: str) -> dict[str, Any]:
    """The page's values: the visitor's status, or None if they hold no place yet."""
    room = container(request).waiting
    context = {**wallet_context(request, city), "program": program, "poll_s": POLL_S}
    context["now_ms"] = container(request).clock()
    base = f"/c/{city}/wallet/buy/queue"
    context.update(
        join_url=queue_url(city, program),
        status_url=f"{base}/status?program={program}",
        events_url=f"{base}/events?program={program}",
        buy_url=f"/c/{city}/wallet/buy?program={program}",
        uuid=uuid.uuid4().hex,
    )
    try:
        status = room.status(city, program, ticket_of(request, program))
    except UnknownTicket:
        status = None
    context.update(status=status, estimate=estimate_text(request, status) if status else "")
    return context


@router.get("/c/{city}/wallet/buy/queue")
def queue_page(request: Request, city: str) -> Response:
    program = program_of(request)
    context = wallet_context(request, city)  # 404 page for no such city
    if not container(request).waiting.gated(city, program):
        # no opening scheduled: no line to wait in
        return RedirectResponse(f"{context['app']}buy?program={program}", status_code=303)
    return page(request, "wallet/queue.html", _context(request, city, program))


@router.post("/c/{city}/wallet/buy/queue")
async def join(request: Request, city: str, _: Csrf) -> Response:
    program = program_of(request)
    wallet_context(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    room = container(request).waiting
    if not room.gated(city, program):
        return RedirectResponse(f"/c/{city}/wallet/buy?program={program}", status_code=303)
    try:
        joined = await asyncio.to_thread(room.join, city, program, key)
    except SaleEnded as exc:
        raise PageError(409, N_("The sale has ended: the discount budget is used up.")) from exc
    answer = RedirectResponse(queue_url(city, program), status_code=303)
    answer.set_cookie(
        cookie_name(program),
        joined.ticket,
        max_age=COOKIE_MAX_AGE_S,
        path=f"/c/{city}/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return answer


@router.get("/c/{city}/wallet/buy/queue/status")
def queue_status(request: Request, city: str) -> Response:
    """The status block alone (the page's polling fallback)."""
    program = program_of(request)
    context = _context(request, city, program)
    return page(request, "wallet/queue.html", context, block="status")


@router.get("/c/{city}/wallet/buy/queue/events")
def queue_events(request: Request, city: str) -> Response:
    """The status block live: an SSE `status` event whenever it reads differently."""
    program = program_of(request)
    wallet_context(request, city)

    async def stream() -> AsyncIterator[str]:
        said, quiet = "", 0.0
        while not await request.is_disconnected():
            context = await asyncio.to_thread(_context, request, city, program)
            html = bytes(page(request, "wallet/queue.html", context, block="status").body).decode()
            if html != said or quiet >= HEARTBEAT_S:
                said, quiet = html, 0.0
                lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
                yield f"event: status\n{lines}\n"
            await asyncio.sleep(STREAM_EVERY_S)
            quiet += STREAM_EVERY_S

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
