"""The public explorer's reserves: at each checkpoint, the units in circulation against
the won in the trust account (services/settlement's proofs). No sign-in: totals only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.deps import city_of
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console_settlement import reserves_context

router = APIRouter()


@router.get("/c/{city}/explorer/reserves")
def explorer_reserves(request: Request, city: str) -> Response:
    context = {"city": city_of(request, city), **reserves_context(request, city)}
    return page(request, "explorer/reserves.html", context)
