"""A payload drawn as a QR symbol: PNG and SVG (segno).

`segno.make_qr`, never `segno.make`: the latter may pick a Micro QR for a short text, which
phone cameras do not read. Error correction M (15 %) without boosting, so the symbol's
version and size depend on the payload only: the same shop prints the same picture.
"""

from __future__ import annotations

import io
from typing import Final

import segno

#: Pixels per module of a download: a shop's code (version 12, 73 modules with the quiet
#: zone) is 876 px, 74 mm at 300 dpi, sharp when printed; the screen scales it down.
PRINT_SCALE: Final = 12
#: The quiet zone the standard requires around the symbol, in modules.
BORDER: Final = 4


def symbol(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error="m", boost_error=False)


def png(payload: str, scale: int = PRINT_SCALE) -> bytes:
    out = io.BytesIO()
    symbol(payload).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def svg(payload: str, scale: float = PRINT_SCALE, title: str = "", unit: str | None = None) -> str:
    """A standalone SVG document on white (readable on a dark page too); `title` becomes
    its accessible name; `unit` ("mm") sizes it for print."""
    out = io.BytesIO()
    symbol(payload).save(
        out,
        kind="svg",
        scale=scale,
        border=BORDER,
        light="#fff",
        xmldecl=False,
        svgns=True,
        title=title or None,
        unit=unit,
    )
    return out.getvalue().decode("utf-8")


def svg_of_width(payload: str, millimetres: float, title: str = "") -> str:
    """The SVG sized to `millimetres` wide, quiet zone included (a sticker's print size)."""
    modules = symbol(payload).symbol_size(scale=1, border=BORDER)[0]
    return svg(payload, millimetres / modules, title, unit="mm")
