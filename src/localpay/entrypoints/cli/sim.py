"""`localpay demo` and `localpay bench`: the simulated city and the benchmarks (localpay.sim)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.adapters.secrets import ENV_FILE, ENV_KEY
from localpay.entrypoints.cli.app import CityOpt, Settings, err, fail, opened, out
from localpay.entrypoints.cli.cities import render_summary
from localpay.ledger.ports import LeaseHeld, StoreError
from localpay.services.cities import inspect
from localpay.services.cities.ledgers import Ledgers
from localpay.sim.demo import SimClock, run_demo

commands = typer.Typer()


@commands.command()
def demo(
    ctx: typer.Context,
    city: CityOpt = "gimpo",
    name: Annotated[str, typer.Option(help="Display name if the city is new")] = "김포시",
    citizens: Annotated[int, typer.Option(min=1, max=1_000_000)] = 2000,
    merchants: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 30,
    seed: int = 2019,
) -> None:
    """Seed a Gimpo-like city and simulate DAYS days of use through the real ledger."""
    with opened(ctx) as store:
        from localpay.sim.demo import start_time  # noqa: PLC0415

        clock = SimClock(0)
        settings: Settings = ctx.obj
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)  # simulated days
        clock.now_ms = start_time(ledgers, city, days, now_ms())
        started = time.perf_counter()
        try:
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("simulating", total=days)

                def tell(stage: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, description=f"simulating ({stage})")

                report = run_demo(ledgers, clock, city, name, citizens, merchants, days, seed, tell)
        finally:
            ledgers.close()
        elapsed = time.perf_counter() - started
        render_outcomes(report.outcomes, elapsed)
        render_summary(inspect.city_summary(store, city))


def render_outcomes(outcomes: dict[str, int], elapsed: float) -> None:
    table = Table(title="simulated commands", show_lines=False)
    for column in ("command", "result", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for key in sorted(outcomes):
        kind, code = key.split(":", 1)
        table.add_row(kind, code, f"{outcomes[key]:,}")
    out.print(table)
    out.print(f"{sum(outcomes.values()):,} commands in {elapsed:.1f} s")


def _server_rss(url: str, keys: Path) -> Callable[[], float]:
    from localpay.sim.memory import server_rss_mib  # noqa: PLC0415

    return lambda: server_rss_mib(url, keys)


@commands.command()
def bench(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    payments: Annotated[
        int | None, typer.Option(min=100, max=1_000_000, help="50,000; 20,000 with --http")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=10_000)] = 256,
    http: Annotated[bool, typer.Option("--http", help="Over HTTP to a server on loopback")] = False,
    connections: Annotated[
        int, typer.Option(min=1, max=1024, help="Keep-alive connections with --http")
    ] = 64,
    limit: Annotated[
        float, typer.Option("--limit", min=1, help="With --http: stop sending after this (s)")
    ] = 120.0,
    verify_txs: Annotated[
        int,
        typer.Option(
            "--verify-txs", min=0, max=2_000_000, help="Grow the chain to this before verify"
        ),
    ] = 200_000,
    memory: Annotated[
        bool, typer.Option("--memory", help="Also the RSS of a server holding the city")
    ] = False,
) -> None:
    """Signed payments durably committed through the sequencer, in a new bench-* city.

    With --http: the payments go over real HTTP to `localpay serve`, started as a
    child process on a free loopback port and stopped afterwards, from a closed-loop
    load generator with CONNECTIONS keep-alive connections.
    """
    import tempfile  # noqa: PLC0415

    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.sim.bench import run_bench  # noqa: PLC0415

    settings: Settings = ctx.obj
    kind = "postgres" if settings.db.startswith("postgres") else "sqlite"
    # The bench city's keys are throwaway: it exists to be measured, never used. So is the
    # master key that seals them when none is given (the --http server inherits it).
    if not (settings.master_key or os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"
    with tempfile.TemporaryDirectory(prefix="localpay-bench-") as keys:
        if http:
            from localpay.sim.http_bench import run_http_bench  # noqa: PLC0415

            try:
                result = run_http_bench(
                    settings.db, Path(keys), kind, payments or 20_000, connections, limit
                )
            except (StoreError, LeaseHeld, RuntimeError) as exc:
                fail(str(exc))
        else:
            with opened(ctx) as store:
                result = run_bench(
                    store,
                    KeyStore(keys),
                    now_ms,
                    kind,
                    payments or 50_000,
                    concurrency,
                    verify_txs,
                    server_rss=_server_rss(settings.db, Path(keys)) if memory else None,
                )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        out.print(f"{key:>22}  {value}")
