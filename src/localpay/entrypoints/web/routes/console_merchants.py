"""The console's merchants: applications to decide, merchants active and suspended, the
fraud bar with its end date, eligibility per program; every decision through
maker-checker (services/registry proposes, a checker approves here).

Each POST answers with a redirect back to the page (`?said=<code>`): one message in plain
words, so a reload never sends a decision twice (the idempotency key is in the form too).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import person
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.labels import CATEGORY_NAMES
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.routes.merchant_apply import (
    TIERS,
    area_choices,
    eligibility_rows,
    registry_of,
)
from localpay.entrypoints.web.security import check_csrf
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.registry.forms import BadField
from localpay.services.registry.ports import PENDING
from localpay.services.registry.service import SUSPEND_REASONS, Barred

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: Merchants on one page (suspended and waiting ones first); the search finds the rest.
SHOWN: Final = 50
REASONS: Final = {
    "cash-out-fraud": N_("Cash-out fraud (barred for a year)"),
    "ineligible-business": N_("Not an eligible business"),
    "owner-request": N_("The owner asked"),
    "closed": N_("The shop closed"),
}
SAID: Final = {
    "proposed": N_("Proposed. A second official approves it."),
    "checked": N_("Approved and sent to the ledger."),
    "refused": N_("The application was refused."),
    "barred": N_("Barred after cash-out fraud: it cannot be reinstated before the bar ends."),
    "conflict": N_("Already decided, or not in a state for this."),
    "reason": N_("Give a reason."),
    "not_found": N_("There is no such application or merchant."),
    "forbidden": N_("You may not make this decision."),
    "ledger": N_("The ledger refused it. See the approvals page."),
}


def _maker(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: access.proposes(p, city))


@router.get("/c/{city}/console/merchants")
def merchants(request: Request, city: str) -> Response:
    who = official(request, city)
    registry = registry_of(request)
    areas = dict(area_choices(request, city))
    said = request.query_params.get("said", "")
    query = request.query_params.get("q", "")[:40]
    context = {
        **console_context(request, city, who),
        "applications": [
            _application(request, city, a, areas) for a in registry.applications(city, PENDING)
        ],
        "merchants": [
            _merchant(request, city, m, areas) for m in registry.merchants(city, query, SHOWN)
        ],
        "query": query,
        "shown": SHOWN,
        "uuid": str(uuid.uuid4()),  # one per view: the service adds the merchant and step
        "reasons": [(r, say(request, REASONS[r])) for r in SUSPEND_REASONS],
        "said": say(request, SAID[said]) if said in SAID else "",
        "said_ok": said in ("proposed", "checked", "refused"),
        "until": int(until) if (until := request.query_params.get("until", "")).isdigit() else 0,
    }
    return page(request, "console/merchants.html", context)


def _application(request: Request, city: str, view: Any, areas: dict[str, str]) -> dict[str, Any]:
    return {
        "view": view,
        "category": say(request, CATEGORY_NAMES.get(view.category, view.category)),
        "area": areas.get(view.area, view.area),
        "tier": say(request, TIERS[view.revenue_tier]),
        "eligibility": eligibility_rows(request, view.eligibility),
        "pending": registry_of(request).waiting(city, view.merchant),
    }


def _merchant(request: Request, city: str, view: Any, areas: dict[str, str]) -> dict[str, Any]:
    return {
        "view": view,
        "category": say(request, CATEGORY_NAMES.get(view.category, view.category)),
        "area": areas.get(view.area, view.area),
        "eligibility": eligibility_rows(
            request, registry_of(request).eligibility(city, view.merchant)
        ),
    }


def _decide(request: Request, city: str, call: Callable[[], Any], done: str) -> Response:
    back = f"/c/{city}/console/merchants"
    try:
        result = call()
    except Barred as exc:
        return RedirectResponse(f"{back}?said=barred&until={exc.until_ms}", status_code=303)
    except BadField:
        return RedirectResponse(f"{back}?said=reason", status_code=303)
    except NotFound:
        return RedirectResponse(f"{back}?said=not_found", status_code=303)
    except Conflict:
        return RedirectResponse(f"{back}?said=conflict", status_code=303)
    except Refused:
        return RedirectResponse(f"{back}?said=forbidden", status_code=303)
    refused = [
        p for p in (result if isinstance(result, list) else [])
        if p.receipt is not None and p.receipt.get("code") != "ok"
    ]  # fmt: skip
    return RedirectResponse(f"{back}?said={'ledger' if refused else done}", status_code=303)


@router.post("/c/{city}/console/merchants/applications/{application}/approve")
async def approve(request: Request, city: str, application: str, _: Csrf) -> Response:
    who = _maker(request, city)
    key = forms.idempotency_key(await request.form())
    registry = registry_of(request)
    return _decide(request, city, lambda: registry.approve(who, application, key), "proposed")


@router.post("/c/{city}/console/merchants/applications/{application}/refuse")
async def refuse(request: Request, city: str, application: str, _: Csrf) -> Response:
    who = _maker(request, city)
    reason = forms.text(await request.form(), "reason", max_length=200)
    registry = registry_of(request)
    return _decide(request, city, lambda: registry.refuse(who, application, reason), "refused")


@router.post("/c/{city}/console/merchants/{merchant}/suspend")
async def suspend(request: Request, city: str, merchant: str, _: Csrf) -> Response:
    who = _maker(request, city)
    form = await request.form()
    key, reason = forms.idempotency_key(form), forms.text(form, "reason", max_length=40)
    registry = registry_of(request)
    return _decide(request, city, lambda: registry.suspend(who, merchant, reason, key), "proposed")


@router.post("/c/{city}/console/merchants/{merchant}/reinstate")
async def reinstate(request: Request, city: str, merchant: str, _: Csrf) -> Response:
    who = _maker(request, city)
    key = forms.idempotency_key(await request.form())
    registry = registry_of(request)
    return _decide(request, city, lambda: registry.reinstate(who, merchant, key), "proposed")


@router.post("/c/{city}/console/merchants/{merchant}/check")
def check(request: Request, city: str, merchant: str, _: Csrf) -> Response:
    who = person(request, city, lambda p: access.approves(p, city))
    registry = registry_of(request)
    return _decide(request, city, lambda: registry.check(who, merchant), "checked")
