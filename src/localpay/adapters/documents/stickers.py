"""The A5 counter sticker of a shop's QR (services/payments/qr/ports.StickerPrinter).

The page is HTML and CSS (templates/sticker.html) laid out by WeasyPrint: the shop's
Korean name large in NanumGothic (Debian's fonts-nanum, found through fontconfig), the
QR as vector SVG 90 mm wide, the bilingual "local currency accepted", the city and the
merchant id. The sticker is printed text, not a page: it carries both languages at once
instead of following a reader's language.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Final

import jinja2

from localpay.domain.errors import Unavailable
from localpay.services.payments.qr.ports import Sticker

TEMPLATES: Final = Path(__file__).parent / "templates"
_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


class PdfUnavailable(Unavailable):
    """WeasyPrint cannot run here (pango or its fonts are missing)."""

    code = "pdf_unavailable"


def sticker_html(sticker: Sticker) -> str:
    qr = base64.b64encode(sticker.qr_svg.encode("utf-8")).decode("ascii")
    source = f"data:image/svg+xml;base64,{qr}"
    return _ENV.get_template("sticker.html").render(s=sticker, qr_src=source)


class WeasyStickerPrinter:
    def a5_sticker(self, sticker: Sticker) -> bytes:
        html = sticker_html(sticker)
        try:
            import weasyprint  # type: ignore[import-untyped]  # noqa: PLC0415 (needs pango)
        except (ImportError, OSError) as exc:
            raise PdfUnavailable(
                f"PDF stickers need WeasyPrint and pango on this server ({exc})"
            ) from None
        # No base_url: the template loads nothing from files or the network (the QR is a
        # data: URI, the font comes from fontconfig).
        document = weasyprint.HTML(string=html)
        pdf: bytes = document.write_pdf()
        return pdf
