"""The citizen approves an online shop's checkout: the shop (verified on the city's ledger),
the amount, the shop's order id, what the payment would take from each program ("usable
here"), and one button that signs a hold naming the intent and the order on this device
(static/js/wallet/checkout.js); then back to the shop's return URL.

The link is the merchant's to hand out (a redirect, or the QR of it on a computer's
screen): anyone with it sees the shop and the amount and a QR to scan with the phone; only
a signed-in citizen of the city sees the approval. Someone signed in as anyone else (a
shop's staff, another city's citizen) gets the 404 page. The server never signs: the
API's approval route checks the signed hold against the intent before the ledger sees it.
"""

from __future__ import annotations

import io
from typing import Any, Final

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.bootstrap import Container
from localpay.entrypoints.web.context import principal
from localpay.entrypoints.web.deps import city_of, container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.outcomes import PLAIN, plain
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import signed_in_wallet, wallet_context
from localpay.entrypoints.web.routes.wallet_pay import balances
from localpay.entrypoints.web.security import finish
from localpay.ledger.state import MERCHANT_ACTIVE
from localpay.services.identity.service import Principal
from localpay.services.payments.checkout.errors import IntentNotFound
from localpay.services.payments.checkout.views import IntentView
from localpay.services.wallets import preview

router = APIRouter()

#: Plain words for what checkout itself answers (the ledger's other codes: outcomes.PLAIN).
WORDS: Final[dict[str, str]] = {
    "intent_used": N_("This order was already paid. It cannot be paid twice."),
    "intent_expired": N_("This payment request has expired. Go back to the shop and order again."),
    "intent_cancelled": N_("The shop cancelled this order. Nothing was paid."),
    "intent_not_found": N_("There is no such payment request."),
    "hold_mismatch": N_("This payment does not match the shop's order. Nothing was paid."),
}
#: What the page says of an intent that is no longer waiting for approval.
STATUS_WORDS: Final[dict[str, str]] = {
    "approved": N_("This order is paid. The shop will take the money when it sends the order."),
    "captured": N_("This order is paid."),
    "partially_captured": N_("This order is paid."),
    "partially_refunded": N_("This order was paid, and part of it was refunded."),
    "refunded": N_("This order was paid and refunded."),
    "cancelled": N_("The shop cancelled this order. Nothing was paid."),
    "expired": N_("This payment request has expired. Go back to the shop and order again."),
}


def words(code: str) -> str:
    """The message id for a refusal of the approval."""
    return WORDS.get(code) or plain(code)


def _intent(box: Container, city: str, intent: str) -> IntentView:
    try:
        return box.checkout.intent(city, intent)
    except IntentNotFound:
        raise PageError(404, N_("There is no such page.")) from None


def _visitor(request: Request, city: str) -> Principal | None:
    """The signed-in citizen of this city, or None for nobody; anyone else: 404."""
    found = principal(request)
    if found is None:
        return None
    if not signed_in_wallet(found, city):
        raise PageError(404, N_("There is no such page."))
    return found


def link_of(request: Request, city: str, intent: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/c/{city}/wallet/checkout/{intent}"


@router.get("/c/{city}/wallet/checkout/{intent}")
def approval_page(request: Request, city: str, intent: str) -> Response:
    context = wallet_context(request, city)  # 404 page for a city this server has not
    box = container(request)
    view = _intent(box, city, intent)
    visitor = _visitor(request, city)
    shop = box.directory.shop(city, view.merchant)
    wallet = visitor.wallet if visitor is not None else None
    result = None
    if wallet is not None and view.pending:
        result = preview.load_payment(
            box.store, city, wallet, view.merchant, view.amount, box.clock()
        )
    values: dict[str, Any] = {
        **context,
        "intent": view,
        "shop": shop,
        "verified": shop is not None and shop.status == MERCHANT_ACTIVE,
        "wallet": wallet,
        "preview": result,
        "holdings": balances(box, city, wallet) if wallet is not None else [],
        "link": link_of(request, city, intent),
        "status_words": STATUS_WORDS.get(view.status, ""),
        # The receipt of the hold, for the wallet that signed it (its own page checks it).
        "own_receipt": wallet is not None and box.checkout.approver(view) == wallet,
        "plain": plain,
    }
    return page(request, "wallet/checkout.html", values)


@router.get("/c/{city}/wallet/checkout/{intent}/why")
def why(request: Request, city: str, intent: str, code: str = "") -> Response:
    """The plain words for a refusal of the approval (a partial for checkout.js)."""
    city_of(request, city)
    _intent(container(request), city, intent)
    _visitor(request, city)
    known = code if code in WORDS or code in PLAIN else ""
    return page(request, "wallet/checkout_why.html", {"message": words(known) if known else ""})


@router.get("/c/{city}/wallet/checkout/{intent}/qr.svg")
def qr_svg(request: Request, city: str, intent: str) -> Response:
    """A QR code of the approval page's link, for a shopper at a computer to scan with
    the phone (error correction M, never a Micro QR)."""
    city_of(request, city)
    _intent(container(request), city, intent)
    code = segno.make_qr(link_of(request, city, intent), error="m", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=6, border=4, xmldecl=False, dark="#000", light="#fff")
    response = Response(out.getvalue(), media_type="image/svg+xml")
    return finish(request, response)
