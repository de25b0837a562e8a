"""Settlement reports to download: the shop owner's statement of a month and the city's
monthly report, each as CSV (Excel) or PDF (services/settlement/reports.py).

`/c/{city}/counter/reports` sends the owner to their own shop's page; only the owner (a
person: not a cashier, not the API key) sees a shop's statements, anyone else the 404
page. The city's report is for its officials and auditors (the console's rule)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from localpay.adapters.documents.reports import WeasyReportRenderer
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import KST, N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.routes.counter import shop_name
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.settlement import reports
from localpay.services.settlement.ports import ReportRenderer

router = APIRouter()

RENDERER: Final[ReportRenderer] = WeasyReportRenderer()
MEDIA: Final = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
#: Months offered in the picker, newest first.
MONTHS_SHOWN: Final = 13
#: Proofs of reserves looked through for the one at a month's end.
PROOFS_SCANNED: Final = 1_000


def _owner(request: Request, city: str, merchant: str) -> Principal:
    return person(request, city, lambda p: access.pays_out(p, city, merchant))


def _period(month: str) -> reports.Period:
    try:
        return reports.parse_month(month)
    except reports.BadPeriod:
        raise PageError(404, N_("There is no such page.")) from None


def _months(request: Request) -> list[str]:
    today = dt.datetime.fromtimestamp(container(request).clock() / 1000, KST).date()
    index = today.year * 12 + today.month - 1
    return [f"{(index - n) // 12}-{(index - n) % 12 + 1:02d}" for n in range(MONTHS_SHOWN)]


def _chosen(request: Request, month: str | None) -> str:
    months = _months(request)
    return month if month is not None and month in months else months[1]  # last month


def _download(data: bytes, fmt: str, name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return Response(data, media_type=MEDIA[fmt], headers=headers)


def _format(fmt: str) -> str:
    if fmt not in MEDIA:
        raise PageError(404, N_("There is no such page."))
    return fmt


# -- the shop's statements ------------------------------------------------------------------


@router.get("/c/{city}/counter/reports")
def counter_reports_home(request: Request, city: str) -> Response:
    city_of(request, city)
    staff = person(request, city, lambda p: p.role == "merchant_owner" and p.merchant is not None)
    return RedirectResponse(f"/c/{city}/counter/{staff.merchant}/reports", status_code=303)


@router.get("/c/{city}/counter/{merchant}/reports")
def counter_reports(
    request: Request, city: str, merchant: str, month: str | None = None
) -> Response:
    _owner(request, city, merchant)
    context: dict[str, Any] = {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": True,
        "home": f"/c/{city}/counter/{merchant}/",
        "months": _months(request),
        "month": _chosen(request, month),
        "here": f"/c/{city}/counter/{merchant}/reports",
    }
    return page(request, "counter/reports.html", context)


@router.get("/c/{city}/counter/{merchant}/reports/{month}.{fmt}")
async def counter_report_file(
    request: Request, city: str, merchant: str, month: str, fmt: str
) -> Response:
    _owner(request, city, merchant)
    kind, period = _format(fmt), _period(month)
    box = container(request)

    def made() -> bytes:
        found = reports.merchant_statement(box.store, box.history, city, merchant, period)
        if kind == "csv":
            return reports.merchant_csv(found)
        return RENDERER.pdf(reports.MERCHANT, found)

    return _download(await run_in_threadpool(made), kind, f"statement-{merchant}-{month}")


# -- the city's month -----------------------------------------------------------------------


@router.get("/c/{city}/console/reports")
def console_reports(request: Request, city: str, month: str | None = None) -> Response:
    who = official(request, city)
    context = {
        **console_context(request, city, who),
        "months": _months(request),
        "month": _chosen(request, month),
        "here": f"/c/{city}/console/reports",
    }
    return page(request, "console/reports.html", context)


@router.get("/c/{city}/console/reports/{month}.{fmt}")
async def console_report_file(request: Request, city: str, month: str, fmt: str) -> Response:
    official(request, city)
    kind, period = _format(fmt), _period(month)
    box = container(request)

    def made() -> bytes:
        proofs = box.settlement_repo.proofs(city, PROOFS_SCANNED)
        reserve = reports.reserve_at(proofs, period)
        year, number = period.first.year, period.first.month
        found = reports.city_monthly(box.store, city, year, number, reserve)
        return reports.city_csv(found) if kind == "csv" else RENDERER.pdf(reports.CITY, found)

    return _download(await run_in_threadpool(made), kind, f"report-{city}-{month}")
