"""The shops' static QR codes: the code itself (for the shop's staff and the city's officials),
the city's public key that verifies codes offline, and reading a scanned code (public: the
wallet shows the shop and its verified badge before paying). services/payments/qr/static.py
does the work; docs/qr.md has the layout and the signature.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from localpay.domain.errors import LocalpayError
from localpay.entrypoints.api.deps import container_of, known_city, require
from localpay.entrypoints.api.problems import (
    MEDIA_TYPE,
    ApiProblem,
    error_problem,
    problem,
    responses,
)
from localpay.services.identity import access
from localpay.services.payments.qr import merchant_qr
from localpay.services.payments.qr.static import MEDIA_TYPES, Format, MerchantQrs, Reading

router = APIRouter(tags=["qr"])

Merchant = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{2,39}$", description="the shop")]
#: The problems of this router that the shared table does not know: code -> status, title.
PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    "pdf_unavailable": (503, "PDF stickers cannot be made on this server"),
}
SUFFIX: Final = {"png": "png", "svg": "svg", "pdf": "pdf", "text": "txt"}


def _documented(*codes: str) -> dict[int | str, dict[str, Any]]:
    out = responses(*(c for c in codes if c not in PROBLEMS))
    for code in (c for c in codes if c in PROBLEMS):
        out[PROBLEMS[code][0]] = {
            "description": code,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def _problem(exc: LocalpayError) -> Response:
    if exc.code in PROBLEMS:
        status, title = PROBLEMS[exc.code]
        return problem(status, exc.code, title, str(exc), {"Retry-After": "60"})
    return error_problem(exc)


def service_of(request: Request) -> MerchantQrs:
    found: MerchantQrs = container_of(request).merchant_qrs
    return found


# -- models ------------------------------------------------------------------------------


class QrKey(BaseModel):
    city: str
    algorithm: Literal["ed25519"] = "ed25519"
    key: str = Field(description="the city's QR public key, 64 hex")
    message: str = Field(
        description="what the key signs for a shop: these bytes with {city} and {merchant}"
        " filled in (UTF-8); the signature is 80/01 of the code, base85"
    )


class ReadIn(BaseModel):
    payload: str = Field(min_length=1, max_length=1024, description="the scanned text")


class QrFields(BaseModel):
    city: str
    merchant: str
    initiation: Literal["11", "12"] = Field(description='"11" static, "12" dynamic')
    mcc: str = Field(description="ISO 18245 merchant category code (52)")
    name: str = Field(description="the shop's name in ASCII (59)")
    city_name: str = Field(description="the city's name in ASCII (60)")
    name_ko: str = Field(description="the shop's Korean name (64/01)")
    city_name_ko: str = Field(description="the city's Korean name (64/02)")
    amount: int | None = Field(description="whole won (54), a dynamic code only")
    reference: str = Field(description="the payment request's reference (62/05), dynamic only")


class ShopOut(BaseModel):
    merchant: str
    name: str
    name_en: str
    category: str
    area: str
    area_name: str
    area_name_en: str
    status: str = Field(description='"active", or "suspended" (listed, cannot be paid)')


class ReadOut(BaseModel):
    verified: bool = Field(description="false: do not pay; `reason` says why")
    reason: str
    qr: QrFields | None = Field(description="what the code says (absent if it is not ours)")
    shop: ShopOut | None = Field(description="the directory's shop, when the code verifies")


def _read_out(found: Reading) -> ReadOut:
    qr = found.qr
    shop = found.shop
    return ReadOut(
        verified=found.verified,
        reason=found.reason,
        qr=None
        if qr is None
        else QrFields(
            city=qr.city,
            merchant=qr.merchant,
            initiation=qr.initiation,
            mcc=qr.mcc,
            name=qr.name,
            city_name=qr.city_name,
            name_ko=qr.name_ko,
            city_name_ko=qr.city_name_ko,
            amount=qr.amount,
            reference=qr.reference,
        ),
        shop=None
        if shop is None
        else ShopOut(
            merchant=shop.merchant,
            name=shop.name,
            name_en=shop.name_en,
            category=shop.category,
            area=shop.area,
            area_name=shop.area_name,
            area_name_en=shop.area_name_en,
            status=shop.status,
        ),
    )


# -- routes ------------------------------------------------------------------------------


@router.get(
    "/v1/cities/{city}/merchants/{merchant}/qr",
    summary="The shop's static QR code as PNG, SVG, A5 sticker PDF or the EMVCo text",
    response_class=Response,
    responses={
        200: {
            "description": "the code (`?download=true`: as an attachment)",
            "content": {media: {} for media in MEDIA_TYPES.values()},
        },
        **_documented("unauthenticated", "not_found", "pdf_unavailable"),
    },
)
def merchant_code(
    request: Request,
    city: str,
    merchant: Merchant,
    format: Annotated[Literal["png", "svg", "pdf", "text"], Query()] = "png",
    download: Annotated[bool, Query()] = False,
) -> Response:
    # The shop's own staff and API keys, and the city's officials; anyone else (another
    # shop, another city) is told there is no such thing, never that it exists.
    principal = require(request)
    if not access.reads_merchant(principal, city, merchant):
        raise ApiProblem("not_found", "no such resource")
    known_city(container_of(request), city)
    kind: Format = format
    try:
        body = service_of(request).image(city, merchant, kind)
    except LocalpayError as exc:
        return _problem(exc)
    name = f"qr-{city}-{merchant}.{SUFFIX[kind]}"
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "Cache-Control": "private, max-age=300",
    }
    return Response(body, media_type=MEDIA_TYPES[kind], headers=headers)


@router.get(
    "/v1/cities/{city}/qr/key",
    summary="The city's public key that verifies its shops' QR codes (for offline checks)",
    response_model=QrKey,
    responses=_documented("not_found"),
)
def qr_key(request: Request, city: str) -> Response:
    known_city(container_of(request), city)
    body = QrKey(
        city=city,
        key=service_of(request).verify_key_hex(city),
        message=merchant_qr.SIGNED_PREFIX.decode() + "{city}\n{merchant}",
    )
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.post(
    "/v1/cities/{city}/qr/read",
    summary="Read a scanned QR code: whether the city signed it, and the shop it names",
    response_model=ReadOut,
    responses=_documented("not_found", "idempotency_key_missing", "validation_failed"),
)
def read_code(request: Request, city: str, body: ReadIn) -> Response:
    """Public: a wallet asks before it pays. A code that is not ours, malformed, forged or
    of another city answers 200 with `verified` false and the reason: the answer is about
    the code, the request itself was fine."""
    known_city(container_of(request), city)
    found = service_of(request).read(city, body.payload)
    return Response(_read_out(found).model_dump_json(), media_type="application/json")
