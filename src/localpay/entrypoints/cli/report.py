"""`localpay report merchant|city`: a settlement report written to a file, CSV or PDF
(services/settlement/reports.py), read from the store without a sequencer.

The merchant's statement reads the history index, brought up to date from the chain
first (derived data: the same a server does at its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

from localpay import bootstrap
from localpay.adapters.documents.reports import WeasyReportRenderer
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.cli.app import CityOpt, Settings, err, fail, opened, out
from localpay.services.cities.inspect import require_city
from localpay.services.history.service import HistoryIndexer
from localpay.services.settlement import reports
from localpay.services.settlement.ports import ReserveProof

commands = typer.Typer()
report = typer.Typer(help="Settlement reports: a merchant's statement, the city's month")
commands.add_typer(report, name="report")

FORMATS: Final = ("csv", "pdf")
#: Proofs of reserves looked through for the one at a month's end.
PROOFS_SCANNED: Final = 1_000

MonthOpt = Annotated[str, typer.Option("--month", help="YYYY-MM, Korean calendar: 2026-12")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv (Excel, UTF-8) or pdf")]
OutOpt = Annotated[Path, typer.Option("--out", help="The file to write")]


def _format(value: str) -> str:
    if value not in FORMATS:
        fail(f"--format is csv or pdf, not {value!r}", 2)
    return value


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    out.print(f"wrote {path} ({len(data):,} bytes)", highlight=False)


def _proofs(ctx: typer.Context, store: SqlStore, city: str) -> list[ReserveProof]:
    """The city's proofs of reserves, newest first; none (the ratio left blank, said on
    stderr) where the master key that opens the settlement records is not at hand."""
    settings: Settings = ctx.obj
    try:
        master = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    except LocalpayError as exc:
        err.print(f"no reserve ratio: {exc}", highlight=False)
        return []
    return SqlSettlement(store, master).proofs(city, PROOFS_SCANNED)


@report.command("merchant")
def merchant(
    ctx: typer.Context,
    city: CityOpt,
    merchant_id: Annotated[str, typer.Option("--merchant", help="Merchant id, e.g. m-00000")],
    month: MonthOpt,
    fmt: FormatOpt = "csv",
    path: OutOpt = Path("statement.csv"),
) -> None:
    """A merchant's statement of a month: daily sales, refunds, payouts and balance."""
    kind = _format(fmt)
    with opened(ctx) as store:
        require_city(store, city)
        period = reports.parse_month(month)
        history = SqlHistoryIndex(store)
        HistoryIndexer(store, history).catch_up(city)
        found = reports.merchant_statement(store, history, city, merchant_id, period)
        data = (
            reports.merchant_csv(found)
            if kind == "csv"
            else WeasyReportRenderer().pdf(reports.MERCHANT, found)
        )
    _write(path, data)


@report.command("city")
def city_month(
    ctx: typer.Context,
    city: CityOpt,
    month: MonthOpt,
    fmt: FormatOpt = "csv",
    path: OutOpt = Path("report.csv"),
) -> None:
    """The city's month: issuance, discounts and policy money by program, redemptions,
    expiries returned, payouts, outstanding units and the reserve ratio at its end."""
    kind = _format(fmt)
    with opened(ctx) as store:
        require_city(store, city)
        period = reports.parse_month(month)
        reserve = reports.reserve_at(_proofs(ctx, store, city), period)
        found = reports.city_monthly(store, city, period.first.year, period.first.month, reserve)
        data = (
            reports.city_csv(found)
            if kind == "csv"
            else WeasyReportRenderer().pdf(reports.CITY, found)
        )
    _write(path, data)
