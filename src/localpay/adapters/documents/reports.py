"""Settlement reports as PDF (services/settlement/ports.ReportRenderer): the merchant's
statement and the city's monthly report, A4, in Korean.

As the counter sticker (stickers.py): HTML and CSS laid out by WeasyPrint, NanumGothic
from Debian's fonts-nanum through fontconfig, nothing loaded from files or the network.
The report is a printed record, so it is Korean only, the way a bank statement is; the
reader's language does not change it. `data` is the report's value
(services/settlement/reports.py); the template reads its fields by name, so this module
needs none of the service's code.
"""

from __future__ import annotations

from typing import Final

import jinja2

from localpay.adapters.documents.stickers import TEMPLATES, PdfUnavailable
from localpay.services.settlement.ports import ReportRenderer

#: Report kind -> its template.
KINDS: Final = {
    "merchant_statement": "report_merchant.html",
    "city_monthly": "report_city.html",
}


def won(amount: int) -> str:
    """Whole won with thousands separators, as Korean documents print them."""
    return f"{amount:,}원"


_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["won"] = won


def report_html(kind: str, data: object) -> str:
    name = KINDS.get(kind)
    if name is None:
        raise ValueError(f"no report of kind {kind!r}")
    return _ENV.get_template(name).render(r=data)


class WeasyReportRenderer:
    def pdf(self, kind: str, data: object) -> bytes:
        html = report_html(kind, data)
        try:
            import weasyprint  # type: ignore[import-untyped]  # noqa: PLC0415 (needs pango)
        except (ImportError, OSError) as exc:
            raise PdfUnavailable(
                f"PDF reports need WeasyPrint and pango on this server ({exc})"
            ) from None
        pdf: bytes = weasyprint.HTML(string=html).write_pdf()
        return pdf


_CHECK: ReportRenderer = WeasyReportRenderer()
