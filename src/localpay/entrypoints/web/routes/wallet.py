"""The citizen's wallet: sign-up, restore and sign-in pages (the key work is done in the
browser by static/js/wallet/), the signed-in home with one card per program, and what
makes it an installable app (manifest, service worker, offline page).

The server never sees a citizen's key: sign-up posts the browser's signed `open_wallet`
to the API, sign-in is the API's key challenge, which sets the session cookie these pages
read. Other wallet pages (pay, history, gift) find their citizen with `citizen()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.context import principal, say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.labels import CATEGORY_NAMES, area_names
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes import wallet_app
from localpay.services.cities.inspect import program_view, wallet_view
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.wallets.cards import cards, expiring_total, kst_today

router = APIRouter()
router.include_router(wallet_app.router)


def signed_in_wallet(p: Principal, city: str) -> bool:
    """The rule of the wallet pages: a citizen, reading their own wallet in this city."""
    return p.role == "citizen" and p.wallet is not None and access.reads_wallet(p, city, p.wallet)


def citizen(request: Request, city: str) -> Principal:
    """The signed-in citizen of `city` (nobody: to the wallet's sign-in; anyone else: 404)."""
    return person(request, city, lambda p: signed_in_wallet(p, city), sign_in=f"/c/{city}/wallet/")


def wallet_context(request: Request, city: str) -> dict[str, Any]:
    """What every wallet page's layout needs: the city and the app's links."""
    return {"city": city_of(request, city), "app": f"/c/{city}/wallet/"}


def label_names(request: Request, city: str) -> Callable[[Iterable[str]], str]:
    """Names of areas (the city's directory, in the page's language) and categories for
    the labels a policy lists; a label without a name is shown as it is."""
    names = area_names(request, city)
    names.update({label: say(request, text) for label, text in CATEGORY_NAMES.items()})
    return lambda labels: ", ".join(names.get(label, label) for label in labels)


@router.get("/c/{city}/wallet/")
def home(request: Request, city: str) -> Response:
    context = wallet_context(request, city)
    if principal(request) is None:
        return page(request, "wallet/signin.html", context)
    found = citizen(request, city)
    assert found.wallet is not None
    box = container(request)
    view = wallet_view(box.store, city, found.wallet)
    # The program's current rules: the wallet's view does not say which version each lot
    # was credited under (the ledger judges a lot by its own version), so a card shows
    # what the program says today.
    policies = {p: program_view(box.store, city, p).versions[-1] for p in view.by_program}
    made = cards(view, policies, kst_today(box.clock()))
    expiring, expiring_by = expiring_total(made)
    return page(
        request,
        "wallet/home.html",
        {
            **context,
            "wallet": view,
            "cards": made,
            "expiring": expiring,
            "expiring_by": expiring_by,
            "names_of": label_names(request, city),
        },
    )


@router.get("/c/{city}/wallet/signup")
def signup(request: Request, city: str) -> Response:
    return page(request, "wallet/signup.html", wallet_context(request, city))


@router.get("/c/{city}/wallet/restore")
def restore(request: Request, city: str) -> Response:
    return page(request, "wallet/restore.html", wallet_context(request, city))
