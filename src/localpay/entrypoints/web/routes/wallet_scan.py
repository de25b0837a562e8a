"""The citizen scans a shop's QR code and pays it: the camera or a photo, the shop with its
"verified" badge, the "usable here" preview, pay, then the wallet's receipt.

The page's JS (static/js/wallet/scan.js) only turns the picture into the code's text; the
server reads that text here with the QR service (services/payments/qr/merchant_qr.py, the
same reading as `POST /v1/cities/{city}/qr/read`): a code whose city signature does not
verify, of another city, or of an unknown shop is refused in plain words, with no pay
button. A dynamic code (initiation 12) carries its amount and reference: the request must
still be open. The JS signs the Pay with this device's key, as on the pay page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from localpay.bootstrap import Container
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen
from localpay.entrypoints.web.routes.wallet_pay import balances, common, wallet_of, whole_won
from localpay.entrypoints.web.security import check_csrf
from localpay.services.directory.service import Shop
from localpay.services.payments.qr import merchant_qr
from localpay.services.payments.qr import requests as qr
from localpay.services.wallets import preview

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: The longest text a QR payload may have (EMVCo's bound is 512 characters).
PAYLOAD_MAX: Final = 512

# Why a scanned code cannot be paid, in plain words (msgids; the template translates).
NOT_A_PAYMENT: Final = N_("This is not a shop's payment QR code.")
FORGED: Final = N_(
    "This QR code is not signed by the city. It may be fake: do not pay, and tell the shop or"
    " the city office."
)
OTHER_CITY: Final = N_("This QR code is for a shop of another city.")
NO_SHOP: Final = N_("There is no such shop.")
EXPIRED: Final = N_("This QR code expired. Ask the shop to show a new one.")
PAID: Final = N_("This QR code was already paid. Ask the shop to show a new one.")


@dataclass(frozen=True)
class Scanned:
    """What a scanned payload says, once checked: the shop and, for a dynamic code, its
    amount and reference (0 and "" for a static code)."""

    merchant: str
    amount: int
    reference: str


@dataclass(frozen=True)
class Refusal:
    message: str


@router.get("/c/{city}/wallet/scan")
def scan_page(request: Request, city: str) -> Response:
    found = citizen(request, city)
    box = container(request)
    context = {
        **common(request, city, found),
        "result": None,
        "payload": "",
        "holdings": balances(box, city, wallet_of(found)),
    }
    return page(request, "wallet/scan.html", context)


@router.post("/c/{city}/wallet/scan/read")
async def scan_read(request: Request, city: str, _: Csrf, part: str = "") -> Response:
    """The scanned code's shop, amount and preview (a partial: the page's #scan-result, or
    with `part=preview` its preview alone, as the amount of a static code is typed)."""
    found = citizen(request, city)
    form = await request.form()
    payload = str(form.get("payload") or "")[: PAYLOAD_MAX + 1]
    typed = str(form.get("amount") or "").strip()[:20]
    box = container(request)
    context: dict[str, Any] = {**common(request, city, found), "payload": payload}
    context["result"] = await run_in_threadpool(
        _result, box, city, wallet_of(found), payload, typed
    )
    block = "preview" if part == "preview" and "shop" in context["result"] else "result"
    return page(request, "wallet/scan.html", context, block=block)


def _result(box: Container, city: str, wallet: str, payload: str, typed: str) -> dict[str, Any]:
    read = scanned(box, city, payload)
    if isinstance(read, Refusal):
        return {"refusal": read.message}
    return result_of(box, city, wallet, read, typed)


def result_of(box: Container, city: str, wallet: str, read: Scanned, typed: str) -> dict[str, Any]:
    shop = box.directory.shop(city, read.merchant)
    assert shop is not None  # `scanned` refused an unknown shop
    amount = read.amount or (whole_won(typed) if typed else None)
    outcome = None
    if amount is not None or typed:
        outcome = preview.load_payment(
            box.store, city, wallet, shop.merchant, amount or 0, box.clock()
        )
    return {
        "shop": shop,
        "dynamic": bool(read.reference),
        "reference": read.reference,
        "evidence": qr.evidence_of(read.reference) if read.reference else "",
        "amount": amount,
        "amount_text": typed,
        "preview": outcome,
        "holdings": balances(box, city, wallet),
    }


def scanned(box: Container, city: str, payload: str) -> Scanned | Refusal:
    """The payload read and checked: the city's signature, this city, a known shop and, for
    a dynamic code, a request still open for the same shop and amount."""
    if not payload or len(payload) > PAYLOAD_MAX:
        return Refusal(NOT_A_PAYMENT)
    read = read_payload(box, city, payload)
    if isinstance(read, Refusal):
        return read
    shop: Shop | None = box.directory.shop(city, read.merchant)
    if shop is None:
        return Refusal(NO_SHOP)
    if read.reference:
        return open_request(box, city, read)
    return read


def open_request(box: Container, city: str, read: Scanned) -> Scanned | Refusal:
    try:
        request = box.qr_requests.get(city, read.reference)
    except LocalpayError:
        return Refusal(NOT_A_PAYMENT)
    if request.merchant != read.merchant or request.amount != read.amount:
        return Refusal(FORGED)  # the code says another shop or amount than was asked
    if request.status == "paid":
        return Refusal(PAID)
    if request.status == "expired":
        return Refusal(EXPIRED)
    return read


def read_payload(box: Container, city: str, payload: str) -> Scanned | Refusal:
    """The QR service's reading (services/payments/qr/static.py), in the page's words."""
    codes = box.merchant_qrs
    reading = codes.read(city, payload)
    code = reading.qr
    if code is None:
        return Refusal(NOT_A_PAYMENT)
    if not reading.verified:
        if code.city != city:
            return Refusal(OTHER_CITY)
        try:
            merchant_qr.verify(code, codes.verify_key(city))
        except merchant_qr.QrError:
            return Refusal(FORGED)
        return Refusal(NO_SHOP)
    return Scanned(code.merchant, code.amount or 0, code.reference)
