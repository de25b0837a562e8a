"""A gift (transfer) to another wallet: the preview by the ledger's rule, then signed in
the browser (static/js/wallet/gift.js) and posted to the API.

GET shows the form; POST (CSRF-checked) shows what the gift would do: which programs
move how much, or in plain words why not (only transferable programs move, within the
receiver's holding limit). The server never signs.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from localpay.entrypoints.web import forms
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen
from localpay.entrypoints.web.routes.wallet_pay import balances, common, wallet_of, whole_won
from localpay.entrypoints.web.security import check_csrf
from localpay.services.wallets import preview

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: A wallet id as the chain takes one (domain AccountId), lowercased as people type it.
WALLET: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{2,39}$")


@router.get("/c/{city}/wallet/gift")
def gift_form(request: Request, city: str) -> Response:
    found = citizen(request, city)
    box = container(request)
    context = {
        **common(request, city, found),
        "to": "",
        "amount_text": "",
        "preview": None,
        "holdings": balances(box, city, wallet_of(found)),
    }
    return page(request, "wallet/gift.html", context)


@router.post("/c/{city}/wallet/gift")
async def gift_preview(request: Request, city: str, _: Csrf) -> Response:
    found = citizen(request, city)
    box = container(request)
    form = await request.form()
    to = forms.text(form, "to", max_length=40).lower()
    typed = forms.text(form, "amount", max_length=20)
    amount = whole_won(typed) or 0
    wallet = wallet_of(found)
    if WALLET.fullmatch(to):
        result = preview.load_transfer(box.store, city, wallet, to, amount, box.clock())
    else:
        result = preview.Preview("account_not_found", amount, [])
    context = {
        **common(request, city, found),
        "to": to,
        "amount_text": typed,
        "amount": amount,
        "preview": result,
        "holdings": balances(box, city, wallet),
    }
    return page(request, "wallet/gift.html", context, status=200)
