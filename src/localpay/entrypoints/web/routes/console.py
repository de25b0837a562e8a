"""The city console's overview: each program's budget gauges, live (htmx polls the
gauges block), and how many proposals wait for a checker.

Officials and auditors of the city only (`access.reads_proposals`); anyone else gets
the 404 page, nobody signed in goes to the staff sign-in (deps.person).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import SignInNeeded
from localpay.entrypoints.web.render import page
from localpay.services.console.gauges import gauges
from localpay.services.identity import access
from localpay.services.identity.service import Principal

router = APIRouter()

#: Pending proposals counted on the overview (a queue longer than this shows "100+").
COUNTED: Final = 100
#: How often the gauges refresh (seconds): budgets move with every purchase and credit.
REFRESH_S: Final = 5


def official(request: Request, city: str) -> Principal:
    """An official or auditor of this city (every console page reads with this rule)."""
    return person(request, city, lambda p: access.reads_proposals(p, city))


def console_context(request: Request, city: str, who: Principal) -> dict[str, Any]:
    return {
        "city": city_of(request, city),
        # Also set by the layout; a partial (one block) is rendered without the layout.
        "console": f"/c/{city}/console/",
        "who": who,
        "may_propose": access.proposes(who, city),
        "may_approve": access.approves(who, city),
    }


def _overview(request: Request, city: str) -> dict[str, Any]:
    who = official(request, city)
    box = container(request)
    pending = box.proposals.list(city, "pending", None, COUNTED)
    return {
        **console_context(request, city, who),
        "gauges": gauges(box.ledgers.sequencer(city).state),
        "pending": len(pending),
        "pending_more": len(pending) >= COUNTED,
        "refresh_s": REFRESH_S,
    }


@router.get("/c/{city}/console/")
def overview(request: Request, city: str) -> Response:
    return page(request, "console/index.html", _overview(request, city))


@router.get("/c/{city}/console/gauges")
def live_gauges(request: Request, city: str) -> Response:
    """The gauges block alone, for the page's polling."""
    try:
        context = _overview(request, city)
    except SignInNeeded as exc:
        # The session ended while the page stayed open: the whole window goes to the
        # sign-in page (htmx follows HX-Redirect), not a sign-in form inside the gauges.
        target = f"{exc.sign_in}?{urlencode({'next': f'/c/{city}/console/'})}"
        return Response(status_code=204, headers={"HX-Redirect": target})
    return page(request, "console/index.html", context, block="live")
