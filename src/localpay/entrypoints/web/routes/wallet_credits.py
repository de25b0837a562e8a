"""Policy money in the wallet: each credit the city paid (a batch row or a single
credit), with its program, amount and last day of use. The home page's cards show a
program's soonest expiry; a citizen with several credits of one program sees here when
each of them ends."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen, wallet_context
from localpay.services.cities.inspect import program_view, wallet_view

router = APIRouter()


@router.get("/c/{city}/wallet/credits")
def credits(request: Request, city: str) -> Response:
    found = citizen(request, city)
    assert found.wallet is not None
    box = container(request)
    view = wallet_view(box.store, city, found.wallet)
    # Policy money is the money of programs that grant (a `Grant`), not of those sold.
    policies = {p: program_view(box.store, city, p).versions[-1] for p in view.by_program}
    granted = {p for p, policy in policies.items() if policy.grant is not None}
    lots = sorted(
        (lot for lot in view.lots if lot.program in granted),
        key=lambda lot: (lot.expires, lot.program, lot.lot),
    )
    names = {p: policies[p].name for p in granted}
    return page(
        request,
        "wallet/credits.html",
        {**wallet_context(request, city), "lots": lots, "names": names},
    )
