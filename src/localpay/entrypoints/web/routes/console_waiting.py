"""Sale openings in the city console: `/c/{city}/console/waiting`.

Officials and auditors see each opening's line (how many wait, how many were admitted,
the set and the measured rate, the budget); officials who propose (access.proposes)
schedule an opening (its time in KST, its rate and admission window) and pause or
resume admission. A schedule changes only the opening; the people in line keep their
places. Every form carries an idempotency key; a repeated schedule sets the same values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from localpay.domain.calendar import KST
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.deps import container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.ledger.sales import sale_of
from localpay.services.identity import access
from localpay.services.waiting.service import (
    DEFAULT_RATE,
    DEFAULT_WINDOW_MINUTES,
    MAX_RATE,
    MAX_WINDOW_MINUTES,
    BadOpening,
    NoOpening,
)

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]


def _proposer(request: Request, city: str) -> None:
    person(request, city, lambda p: access.proposes(p, city))


def _context(request: Request, city: str) -> dict[str, Any]:
    who = official(request, city)
    box = container(request)
    state = box.ledgers.sequencer(city).state
    for_sale = sorted(p for p, program in state.programs.items() if sale_of(program))
    return {
        **console_context(request, city, who),
        "lines": box.waiting.views(city),
        "for_sale": for_sale,
        "default_rate": DEFAULT_RATE,
        "max_rate": MAX_RATE,
        "default_window": DEFAULT_WINDOW_MINUTES,
        "max_window": MAX_WINDOW_MINUTES,
        "uuid": uuid.uuid4().hex,
    }


@router.get("/c/{city}/console/waiting")
def openings(request: Request, city: str) -> Response:
    return page(request, "console/waiting.html", _context(request, city))


def _number(form: Any, name: str, low: int, high: int) -> int:
    typed = forms.text(form, name, max_length=10)
    if not typed.isdigit() or not low <= int(typed) <= high:
        raise PageError(422, N_("Enter whole numbers within the limits shown."))
    return int(typed)


def _opens_ms(form: Any) -> int:
    """A datetime-local field, read as Korean time (KST)."""
    typed = forms.text(form, "opens_at", max_length=20)
    try:
        local = dt.datetime.fromisoformat(typed)
    except ValueError as exc:
        raise PageError(422, N_("Enter the opening's date and time.")) from exc
    return int(local.replace(tzinfo=KST).timestamp() * 1000)


@router.post("/c/{city}/console/waiting")
async def schedule(request: Request, city: str, _: Csrf) -> Response:
    _proposer(request, city)
    form = await request.form()
    forms.idempotency_key(form)  # a repeat sets the same values: naturally idempotent
    program = forms.text(form, "program", max_length=40)
    if program not in _context(request, city)["for_sale"]:
        raise PageError(422, N_("Choose a program that is sold to citizens."))
    opens_ms = _opens_ms(form)
    rate = _number(form, "rate", 1, MAX_RATE)
    window = _number(form, "window", 1, MAX_WINDOW_MINUTES)
    try:
        container(request).waiting.schedule(city, program, opens_ms, rate, window)
    except BadOpening as exc:
        raise PageError(422, N_("Enter whole numbers within the limits shown.")) from exc
    return RedirectResponse(f"/c/{city}/console/waiting", status_code=303)


async def _pause(request: Request, city: str, program: str, paused: bool) -> Response:
    _proposer(request, city)
    forms.idempotency_key(await request.form())
    try:
        container(request).waiting.set_paused(city, program, paused)
    except NoOpening as exc:
        raise PageError(404, N_("There is no such sale.")) from exc
    return RedirectResponse(f"/c/{city}/console/waiting", status_code=303)


@router.post("/c/{city}/console/waiting/{program}/pause")
async def pause(request: Request, city: str, program: str, _: Csrf) -> Response:
    return await _pause(request, city, program, True)


@router.post("/c/{city}/console/waiting/{program}/resume")
async def resume(request: Request, city: str, program: str, _: Csrf) -> Response:
    return await _pause(request, city, program, False)
