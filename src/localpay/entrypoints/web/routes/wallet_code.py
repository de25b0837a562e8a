"""The citizen's one-time payment code (변동형 QR + barcode): the wallet shows it, a shop's
counter or POS captures it once (routes/counter_code.py, api/routers/codes.py).

The page's JS (static/js/wallet/code.js) makes 20 random digits, signs a PresentCode that
names only their hash and a cap, and posts it to the API. The digits never travel in a
URL: the QR and the barcode are drawn here from digits POSTed in a form body (bodies are
never logged), and the page then follows the code's state by its hash, which is on the
public chain anyway. Only the citizen of the wallet sees any of it (`citizen`).
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any, Final

import segno
from barcode.charsets.code128 import START_CODES  # type: ignore[import-untyped]
from barcode.codex import Code128  # type: ignore[import-untyped]
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from localpay.domain.errors import NotFound
from localpay.domain.limits import CODE_MS_MAX
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.wallet import citizen
from localpay.entrypoints.web.routes.wallet_pay import balances, common, wallet_of
from localpay.entrypoints.web.security import check_csrf
from localpay.services.cities.inspect import wallet_view
from localpay.services.payments.qr import code_claims
from localpay.services.payments.qr.codes import CodeMalformed, grouped, is_hash, normalise

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: How often the page asks for the code's state while it is open.
POLL_MS: Final = 2_000
#: Code 128 as drawn: a quiet zone of 10 modules each side (the symbology's minimum; the
#: page around it is white too), bars 40 modules tall, 2 px a module at the image's own
#: size, so a phone's screen draws every bar on whole pixels (a scanner reading a screen
#: misreads bars smeared between pixels). No text under the bars: the page prints the
#: digits itself, in groups, large enough to type.
QUIET_MODULES: Final = 10
BAR_MODULES: Final = 40
PX_PER_MODULE: Final = 2


def qr_data_uri(digits: str) -> str:
    """The code as a QR: version 1-M holds 20 digits; make_qr, never a Micro QR."""
    qr = segno.make_qr(digits, error="m", boost_error=False)
    uri: str = qr.svg_data_uri(scale=8, border=4, dark="#000", light="#fff")
    return uri


class DigitsCode128(Code128):  # type: ignore[misc]  # python-barcode ships no types
    """Code 128 of an even number of digits: charset C from the start, one symbol per pair.

    python-barcode 0.16's own Code128 drops a leading "99" (it takes the pair's value, 99,
    for a switch to charset C and folds it into the start code): one code in a hundred
    would scan as 18 digits. Here the symbols are the pairs, with nothing to optimise."""

    def _build(self) -> list[int]:
        code = str(self.code)
        return [START_CODES["C"], *(int(code[i : i + 2]) for i in range(0, len(code), 2))]


def barcode_svg(digits: str) -> str:
    """The code's Code 128 symbol as SVG: one rectangle per run of dark modules, in a
    viewBox of modules (so it scales without blur), crisp edges."""
    modules = DigitsCode128(digits).build()[0]  # "1" dark, "0" light, start to stop
    width = len(modules) + 2 * QUIET_MODULES
    bars = []
    for run in re.finditer("1+", modules):
        x = QUIET_MODULES + run.start()
        bars.append(f'<rect x="{x}" y="0" width="{len(run.group())}" height="{BAR_MODULES}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {BAR_MODULES}"'
        f' width="{width * PX_PER_MODULE}" height="{BAR_MODULES * PX_PER_MODULE}"'
        ' shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{BAR_MODULES}" fill="#fff"/>'
        f'<g fill="#000">{"".join(bars)}</g></svg>'
    )


def barcode_data_uri(digits: str) -> str:
    """The code as Code 128 (charset C: ten symbols for twenty digits), an SVG data URI."""
    return "data:image/svg+xml;base64," + base64.b64encode(barcode_svg(digits).encode()).decode()


@router.get("/c/{city}/wallet/code")
def code_page(request: Request, city: str) -> Response:
    """The cap (the whole balance unless lowered) and the button that makes a code."""
    found = citizen(request, city)
    box = container(request)
    view = wallet_view(box.store, city, wallet_of(found))
    context = {
        **common(request, city, found),
        "balance": view.balance,
        "holdings": balances(box, city, view.wallet),
        "valid_minutes": CODE_MS_MAX // 60_000,
        "poll_ms": POLL_MS,
    }
    return page(request, "wallet/code.html", context)


@router.post("/c/{city}/wallet/code/render")
async def render_code(request: Request, city: str, _: Csrf) -> Response:
    """The QR and the barcode of digits this device made (a partial). Nothing is stored
    or logged: the digits arrive in the body and leave in the images."""
    found = citizen(request, city)
    form = await request.form()
    raw = form.get("digits")
    try:
        digits = normalise(raw if isinstance(raw, str) else "")
    except CodeMalformed:
        raise PageError(422, N_("This is not a payment code.")) from None
    context = {
        **common(request, city, found),
        "qr": qr_data_uri(digits),
        "bars": barcode_data_uri(digits),
        "grouped": grouped(digits),
    }
    return page(request, "wallet/code.html", context, block="images")


@router.get("/c/{city}/wallet/code/{code}")
def code_state(request: Request, city: str, code: str) -> Response:
    """The code's state (a partial the page polls): open with the time left, used with the
    amount and the shop, or expired. Another wallet's code is the 404 page."""
    found = citizen(request, city)
    box = container(request)
    wallet = wallet_of(found)
    try:
        seen = code_claims.status(box.store, city, code, box.clock()) if is_hash(code) else None
    except NotFound:
        seen = None
    if seen is None or seen.wallet != wallet:
        raise PageError(404, N_("There is no such page."))
    context: dict[str, Any] = {**common(request, city, found), "seen": seen, "code": code}
    if seen.state == code_claims.USED:
        context["shop"] = box.directory.shop(city, seen.merchant)
        context["holdings"] = balances(box, city, wallet)
    return page(request, "wallet/code.html", context, block="state")
