"""The counter's dynamic QR: type an amount, show a one-time QR for it, see it paid.

`/c/{city}/counter/charge` is the signed-in staff's own shop (owner or cashier; an API key
has no pages). The request is made by services/payments/qr/requests.py, as the POS's API
makes it; the page polls its status (htmx, every POLL_S) and turns to "paid" with the amount,
or to "expired" after its three minutes. Another shop's request is the 404 page.
"""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Any, Final

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import language, say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.security import check_csrf, finish
from localpay.services.identity import access
from localpay.services.identity.service import MERCHANT_ROLES, Principal
from localpay.services.payments.qr.requests import (
    REQUEST_VALID_MS,
    QrRequest,
    QrRequests,
    RequestNotFound,
)

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: How often the screen asks whether its QR was paid (seconds).
POLL_S: Final = 2
#: Pixels per QR module on the screen: about 4 cm wide on a phone held up to the customer.
SCALE: Final = 6
REFERENCE_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _staff(request: Request, city: str) -> Principal:
    """An owner or cashier of a shop of this city (people only), else the 404 page."""
    return person(
        request,
        city,
        lambda p: p.city == city and p.role in MERCHANT_ROLES and p.role != "merchant_api"
        and p.merchant is not None,
    )  # fmt: skip


def _merchant(staff: Principal) -> str:
    assert staff.merchant is not None  # `_staff` admits only staff of a merchant
    return staff.merchant


def _service(request: Request) -> QrRequests:
    found: QrRequests = container(request).qr_requests
    return found


def _shop(request: Request, city: str, merchant: str) -> str:
    shop = container(request).directory.shop(city, merchant)
    if shop is None:
        return merchant
    return shop.name_en if language(request) == "en" and shop.name_en else shop.name


def _base(request: Request, city: str, staff: Principal) -> dict[str, Any]:
    merchant = _merchant(staff)
    return {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": _shop(request, city, merchant),
        "home": f"/c/{city}/counter/{merchant}/",
        "charge": f"/c/{city}/counter/charge",
        "valid_minutes": REQUEST_VALID_MS // 60_000,
        "owner": access.pays_out(staff, city, merchant),  # the owner's menu items
    }


def _own(request: Request, city: str, staff: Principal, reference: str) -> QrRequest:
    """The request if it is this staff's shop's; the 404 page otherwise."""
    if len(reference) != 16 or not set(reference) <= REFERENCE_CHARS:
        raise PageError(404, N_("There is no such page."))
    try:
        return _service(request).get(city, reference, merchant=_merchant(staff))
    except RequestNotFound:
        raise PageError(404, N_("There is no such page.")) from None


# -- the amount -----------------------------------------------------------------------------


@router.get("/c/{city}/counter/charge")
def charge_form(request: Request, city: str) -> Response:
    staff = _staff(request, city)
    context = {**_base(request, city, staff), "key": str(uuid.uuid4()), "amount": ""}
    return page(request, "counter/charge.html", context)


@router.post("/c/{city}/counter/charge")
async def charge(request: Request, city: str, _: Csrf) -> Response:
    staff = _staff(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    if amount is None:
        context = {
            **_base(request, city, staff),
            "key": key,
            "amount": forms.text(form, "amount", max_length=20),
            "error": say(request, "Enter the amount in whole won, for example 12000."),
        }
        return page(request, "counter/charge.html", context, status=422)
    made = await run_in_threadpool(_service(request).create, city, _merchant(staff), amount, key)
    target = f"/c/{city}/counter/charge/{made.reference}"
    return finish(request, RedirectResponse(target, status_code=303))


# -- the QR and its status ------------------------------------------------------------------


def _shown(request: Request, city: str, staff: Principal, found: QrRequest) -> dict[str, Any]:
    now = container(request).clock()
    return {
        **_base(request, city, staff),
        "req": found,
        "left_s": max(0, (found.expires_ms - now + 999) // 1000),
        "poll_s": POLL_S,
    }


@router.get("/c/{city}/counter/charge/{reference}")
def charge_screen(request: Request, city: str, reference: str) -> Response:
    staff = _staff(request, city)
    found = _own(request, city, staff, reference)
    qr = segno.make_qr(found.payload, error="m", boost_error=False)
    context = {
        **_shown(request, city, staff, found),
        "svg": qr.svg_inline(scale=SCALE, border=4, dark="#000", light="#fff", omitsize=True),
    }
    return page(request, "counter/charge.html", context)


@router.get("/c/{city}/counter/charge/{reference}/status")
def charge_status(request: Request, city: str, reference: str) -> Response:
    """The status block alone (htmx polls it until paid or expired)."""
    staff = _staff(request, city)
    found = _own(request, city, staff, reference)
    return page(request, "counter/charge.html", _shown(request, city, staff, found), block="status")


@router.get("/c/{city}/counter/charge/{reference}/qr.png")
def charge_png(request: Request, city: str, reference: str) -> Response:
    """The same QR as a PNG (to print, or to send to a customer's screen)."""
    staff = _staff(request, city)
    found = _own(request, city, staff, reference)
    qr = segno.make_qr(found.payload, error="m", boost_error=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=8, border=4)
    response = Response(buffer.getvalue(), media_type="image/png")
    response.headers["Cache-Control"] = "no-store"
    return finish(request, response)
