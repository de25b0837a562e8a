"""The citizen's notices: money in the wallet about to expire, told 30 and 7 days before
(the outbox of services/jobs/notices.py, which the channel also delivers), newest first.

Opening the page is reading the notices: they are marked seen once shown (the unread
count on the wallet home goes down). That write is idempotent (only notices not seen yet
get a time) and touches no money, so it needs no idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.domain.calendar import iso_date
from localpay.entrypoints.web.context import principal
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen, signed_in_wallet, wallet_context
from localpay.entrypoints.web.routes.wallet_pay import common, wallet_of
from localpay.services.wallets import preview

router = APIRouter()

PAGE: Final = 50


@dataclass(frozen=True)
class NoticeLine:
    program: str  # the program's public name
    amount: int
    days_before: int
    last_day: str  # YYYY-MM-DD, the last Korean day the money is spendable
    told: str  # YYYY-MM-DD, when the notice was written
    new: bool


@router.get("/c/{city}/wallet/notices")
def notices(request: Request, city: str) -> Response:
    found = citizen(request, city)
    box = container(request)
    wallet = wallet_of(found)
    shown = box.notices.of_wallet(city, wallet, PAGE)
    programs = preview.load_programs(box.store, city, {n.program for n in shown})
    lines = [
        NoticeLine(
            preview.program_name(programs.get(n.program), n.program),
            n.amount,
            n.days_before,
            iso_date(n.expires_ms - 1),
            iso_date(n.created_ms),
            n.seen_ms is None,
        )
        for n in shown
    ]
    response = page(
        request, "wallet/notices.html", {**common(request, city, found), "lines": lines}
    )
    box.notices.mark_seen(city, wallet, box.clock())
    return response


@router.get("/c/{city}/wallet/notices/link")
def notices_link(request: Request, city: str) -> Response:
    """The wallet home's link to the notices with the unread count (loaded by htmx). A
    session that ended meanwhile gets the plain link (the page itself asks to sign in),
    never a sign-in page swapped into the home's list."""
    context = wallet_context(request, city)
    found = principal(request)
    unread = 0
    if found is not None and signed_in_wallet(found, city):
        unread = container(request).notices.unseen(city, wallet_of(found))
    context["unread"] = unread
    return page(request, "wallet/_notices_link.html", context)
