"""`localpay init`, `cities`, `status`, `verify`: a city's chain as a whole."""

from __future__ import annotations

from typing import Annotated

import msgspec
import typer
from rich.table import Table

from localpay.domain.commands import DEFAULT_REFUND_WINDOW_DAYS
from localpay.domain.limits import REFUND_WINDOW_DAYS_MAX
from localpay.entrypoints.cli.app import (
    CityOpt,
    GenesisPin,
    OperatorPin,
    err,
    fail,
    opened,
    out,
    pins_of,
    running,
)
from localpay.ledger.replay import Pins
from localpay.services.cities import inspect
from localpay.services.cities.officials import create_city
from localpay.services.cities.verify import verify_city
from localpay.services.cities.views import CitySummary

commands = typer.Typer()


@commands.command()
def init(
    ctx: typer.Context,
    city: CityOpt,
    name: Annotated[str, typer.Option("--name", help="Display name, e.g. 김포시")],
    refund_window_days: Annotated[
        int,
        typer.Option(
            "--refund-window-days",
            min=1,
            max=REFUND_WINDOW_DAYS_MAX,
            help="Days a payment may be refunded (its record then leaves the state)",
        ),
    ] = DEFAULT_REFUND_WINDOW_DAYS,
) -> None:
    """Create a city: its genesis block, operator key and officials' keys."""
    with running(ctx) as ledgers:
        receipt = create_city(ledgers, city, name, refund_window_days=refund_window_days)
        if not receipt.ok:
            fail(f"genesis rejected: {receipt.code} ({receipt.message})")
        out.print(f"created city [bold]{city}[/] ({name}): genesis block 0, id {receipt.id}")


@commands.command()
def cities(ctx: typer.Context) -> None:
    """List the cities in the store with their chain height and supply."""
    with opened(ctx) as store:
        for city in store.cities():
            s = inspect.city_summary(store, city)
            out.print(
                f"{city}\t{s.name}\theight {s.height:,}\ttxs {s.transactions:,}"
                f"\tsupply {s.supply:,} won"
            )


@commands.command()
def status(ctx: typer.Context, city: CityOpt) -> None:
    """A city's chain head, supply and account counts."""
    with opened(ctx) as store:
        render_summary(inspect.city_summary(store, city))


def render_summary(summary: CitySummary) -> None:
    table = Table(title=f"{summary.name} ({summary.city})", show_header=False)
    for key, value in msgspec.structs.asdict(summary).items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)


@commands.command()
def verify(
    ctx: typer.Context,
    city: Annotated[str | None, typer.Option("--city", help="Only this city")] = None,
    genesis: GenesisPin = None,
    operator_key: OperatorPin = None,
) -> None:
    """Replay every city's chain from genesis; exit 1 naming the first bad block and tx."""
    pins = pins_of(genesis, operator_key)
    if pins != Pins() and not city:
        fail("--genesis and --operator-key pin one chain: give its --city", 2)
    with opened(ctx) as store:
        targets = [city] if city else store.cities()
        if city and city not in store.cities():
            fail(f"city {city!r} does not exist in this store")
        failed = False
        for name in targets:
            report = verify_city(store, name, pins=pins)
            if report.pin_mismatch:
                fail(report.problems[0])
            if report.ok:
                out.print(
                    f"[green]ok[/] {name}: {report.blocks:,} blocks, "
                    f"{report.txs:,} transactions replayed, state matches"
                )
            else:
                failed = True
                for problem in report.problems:
                    err.print(f"[bold red]FAIL[/] {name}: {problem}", highlight=False)
        if failed:
            raise typer.Exit(1)
