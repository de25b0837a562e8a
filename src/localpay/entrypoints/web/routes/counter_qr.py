"""The shop's QR code page on the counter: the static code on screen, its PNG and SVG to
download, and the A5 sticker (PDF) to print for the counter.

`/c/{city}/counter/qr` sends staff to their own shop's page; `/c/{city}/counter/{merchant}/qr`
is for that shop's owner and cashiers only (anyone else: the 404 page, as on the counter).
The pictures come from services/payments/qr/static.py, as the API's do.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.counter import shop_name
from localpay.services.identity import access
from localpay.services.identity.service import MERCHANT_ROLES, Principal
from localpay.services.payments.qr.static import MEDIA_TYPES

router = APIRouter()

FILES: Final[dict[str, Literal["png", "svg", "pdf"]]] = {"png": "png", "svg": "svg", "pdf": "pdf"}


def _is_staff(p: Principal) -> bool:
    # People only: a merchant's API key has no pages (it has GET /v1/.../qr).
    return p.role in MERCHANT_ROLES and p.role != "merchant_api"


def _staff(request: Request, city: str, merchant: str) -> Principal:
    return person(request, city, lambda p: _is_staff(p) and access.refunds_for(p, city, merchant))


@router.get("/c/{city}/counter/qr")
def own_qr(request: Request, city: str) -> Response:
    city_of(request, city)
    staff = person(request, city, lambda p: _is_staff(p) and p.merchant is not None)
    return RedirectResponse(f"/c/{city}/counter/{staff.merchant}/qr", status_code=303)


@router.get("/c/{city}/counter/{merchant}/qr")
def qr_page(request: Request, city: str, merchant: str) -> Response:
    staff = _staff(request, city, merchant)
    home = f"/c/{city}/counter/{merchant}/"
    context: dict[str, Any] = {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": access.pays_out(staff, city, merchant),
        "home": home,
        "files": f"{home}qr.",
    }
    return page(request, "counter/qr.html", context)


@router.get("/c/{city}/counter/{merchant}/qr.{kind}")
def qr_file(
    request: Request, city: str, merchant: str, kind: str, download: bool = False
) -> Response:
    _staff(request, city, merchant)
    city_of(request, city)
    chosen = FILES.get(kind)
    if chosen is None:
        raise PageError(404, N_("There is no such page."))
    body = container(request).merchant_qrs.image(city, merchant, chosen)
    name = f"qr-{city}-{merchant}.{chosen}"
    headers = {
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{name}"',
        "Cache-Control": "private, max-age=300",
    }
    return Response(body, media_type=MEDIA_TYPES[chosen], headers=headers)
