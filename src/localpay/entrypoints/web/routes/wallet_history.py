"""The citizen's history: the wallet's transactions, newest first, each to its receipt.

Read from the history index the API's GET /v1/cities/{city}/wallets/{wallet}/transactions
reads (services/history), paged by the same cursor (the seq of the last row shown).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen
from localpay.entrypoints.web.routes.wallet_pay import common, wallet_of
from localpay.services.wallets import activity, preview

router = APIRouter()

PAGE: Final = 20


@router.get("/c/{city}/wallet/history")
def history(
    request: Request, city: str, cursor: int | None = Query(None, ge=1, lt=1 << 62)
) -> Response:
    found = citizen(request, city)
    box = container(request)
    wallet = wallet_of(found)
    rows = box.history.account_txs(city, wallet, cursor, PAGE)
    lines = activity.lines(box.store, city, wallet, rows)
    shops = {
        line.party: box.directory.shop(city, line.party)
        for line in lines
        if line.kind in (activity.PAID, activity.REFUNDED)
    }
    credited = {line.party for line in lines if line.kind in activity.PROGRAM_KINDS}
    programs = preview.load_programs(box.store, city, credited)
    more = len(rows) == PAGE and rows[-1].seq > 0
    context = {
        **common(request, city, found),
        "lines": lines,
        "shops": shops,
        "program_names": {p: preview.program_name(programs.get(p), p) for p in credited},
        "next": rows[-1].seq if more else None,
    }
    return page(request, "wallet/history.html", context)
