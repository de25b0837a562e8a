"""`localpay`: the command line. Thin: parse, call a service, render.

Every failure is one line on stderr and a non-zero exit; secrets are never printed.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.ledger.replay import Pins
from localpay.ledger.store import LeaseHeld, Store, StoreError
from localpay.services import inspect
from localpay.services.demo import SimClock, run_demo
from localpay.services.ledgers import Ledgers, MissingKey
from localpay.services.officials import CityAlreadyExists, create_city
from localpay.services.verify import verify_city

app = typer.Typer(
    name="localpay",
    help="localpay: a city's own local currency on a signed, hash-chained ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

CityOpt = Annotated[str, typer.Option("--city", help="City id, e.g. gimpo")]


class Settings(msgspec.Struct):
    db: str
    keys: str | None


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="LOCALPAY_DB", help="sqlite:///path.db or postgresql://..."),
    ] = None,
    keys: Annotated[
        str | None, typer.Option("--keys", envvar="LOCALPAY_KEYS", help="Folder of key files")
    ] = None,
) -> None:
    ctx.obj = Settings(bootstrap.db_url(db), keys)


@contextmanager
def opened(ctx: typer.Context) -> Iterator[Store]:
    settings: Settings = ctx.obj
    try:
        store = bootstrap.open_store(settings.db)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    except (inspect.NotFound, LeaseHeld, StoreError, CityAlreadyExists) as exc:
        fail(str(exc))
    finally:
        store.close()


@contextmanager
def running(ctx: typer.Context, clock: Callable[[], int] = now_ms) -> Iterator[Ledgers]:
    settings: Settings = ctx.obj
    with opened(ctx) as store:
        ledgers = Ledgers(store, bootstrap.open_keys(settings.db, settings.keys), clock)
        try:
            yield ledgers
        finally:
            ledgers.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(msgspec.to_builtins(value), ensure_ascii=False, indent=2) + "\n")


# -- cities ---------------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    city: CityOpt,
    name: Annotated[str, typer.Option("--name", help="Display name, e.g. 김포시")],
) -> None:
    """Create a city: its genesis block, operator key and officials' keys."""
    with running(ctx) as ledgers:
        receipt = create_city(ledgers, city, name)
        if not receipt.ok:
            fail(f"genesis rejected: {receipt.code} ({receipt.message})")
        out.print(f"created city [bold]{city}[/] ({name}): genesis block 0, id {receipt.id}")


@app.command()
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
        from localpay.services.demo import start_time  # noqa: PLC0415

        clock = SimClock(0)
        settings: Settings = ctx.obj
        keys = bootstrap.open_keys(settings.db, settings.keys)
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


def render_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"{summary['name']} ({summary['city']})", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)


@app.command()
def cities(ctx: typer.Context) -> None:
    """List the cities in the store with their chain height and supply."""
    with opened(ctx) as store:
        for city in store.cities():
            s = inspect.city_summary(store, city)
            out.print(
                f"{city}\t{s['name']}\theight {s['height']:,}\ttxs {s['transactions']:,}"
                f"\tsupply {s['supply']:,} won"
            )


@app.command()
def status(ctx: typer.Context, city: CityOpt) -> None:
    """A city's chain head, supply and account counts."""
    with opened(ctx) as store:
        render_summary(inspect.city_summary(store, city))


# -- inspection ---------------------------------------------------------------------------


@app.command()
def balance(
    ctx: typer.Context,
    city: CityOpt,
    wallet: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A wallet's balance per program, each lot with its expiry."""
    with opened(ctx) as store:
        view = inspect.wallet_view(store, city, wallet)
        if as_json:
            print_json(view)
            return
        out.print(
            f"wallet [bold]{wallet}[/] {'(card)' if view['card'] else ''}: "
            f"[bold]{view['balance']:,}[/] won"
        )
        table = Table("lot", "program", "amount", "expires (KST)", "origin")
        for lot in view["lots"]:
            table.add_row(
                lot["lot"], lot["program"], f"{lot['amount']:,}", lot["expires"], lot["origin"]
            )
        out.print(table)


@app.command()
def merchant(ctx: typer.Context, city: CityOpt, merchant_id: str) -> None:
    """A merchant's status, category, area and balance."""
    with opened(ctx) as store:
        print_json(inspect.merchant_view(store, city, merchant_id))


@app.command()
def program(ctx: typer.Context, city: CityOpt, program_id: str) -> None:
    """A program's versions (policies) and budget."""
    with opened(ctx) as store:
        print_json(inspect.program_view(store, city, program_id))


@app.command()
def blocks(
    ctx: typer.Context, city: CityOpt, last: Annotated[int, typer.Option(min=1, max=1000)] = 10
) -> None:
    """The last blocks of a city's chain."""
    with opened(ctx) as store:
        table = Table("height", "time (ms)", "txs", "log size", "log root")
        for h in inspect.blocks_view(store, city, last):
            table.add_row(
                str(h.height),
                str(h.time_ms),
                str(h.tx_count),
                f"{h.log_size:,}",
                h.log_root[:16] + "…",
            )
        out.print(table)


@app.command()
def block(ctx: typer.Context, city: CityOpt, height: int) -> None:
    """One block: header, checkpoint and transactions (JSON)."""
    with opened(ctx) as store:
        print_json(inspect.block_view(store, city, height))


@app.command()
def tx(ctx: typer.Context, city: CityOpt, tx_id: str) -> None:
    """One transaction by its id: command, signers, result, place in the chain (JSON)."""
    with opened(ctx) as store:
        print_json(inspect.tx_view(store, city, tx_id))


# -- verification -----------------------------------------------------------------------------


GenesisPin = Annotated[
    str | None,
    typer.Option(
        "--genesis",
        help="The city's genesis hash (64 hex), learned from the city, not from the"
        " operator's server (`localpay genesis`): another chain is refused",
    ),
]
OperatorPin = Annotated[
    str | None,
    typer.Option("--operator-key", help="The city's operator public key (64 hex) to pin"),
]


def pins_of(genesis: str | None, operator_key: str | None) -> Pins:
    """The --genesis and --operator-key options, checked to be 64 hex digits."""
    for name, value in (("--genesis", genesis), ("--operator-key", operator_key)):
        if value is not None and (len(value) != 64 or value.strip(string.hexdigits)):
            fail(f"{name} takes 64 hex digits, got {value!r}", 2)
    return Pins(genesis and genesis.lower(), operator_key and operator_key.lower())


@app.command()
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


def run() -> None:
    app()


# -- benchmark ---------------------------------------------------------------------------------


@app.command()
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
) -> None:
    """Signed payments durably committed through the sequencer, in a new bench-* city.

    With --http: the payments go over real HTTP to `localpay serve`, started as a
    child process on a free loopback port and stopped afterwards, from a closed-loop
    load generator with CONNECTIONS keep-alive connections.
    """
    import tempfile  # noqa: PLC0415

    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.services.bench import run_bench  # noqa: PLC0415

    settings: Settings = ctx.obj
    kind = "postgres" if settings.db.startswith("postgres") else "sqlite"
    # The bench city's keys are throwaway: it exists to be measured, never used.
    with tempfile.TemporaryDirectory(prefix="localpay-bench-") as keys:
        if http:
            from localpay.services.http_bench import run_http_bench  # noqa: PLC0415

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
                )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        out.print(f"{key:>22}  {value}")


@app.command()
def up(
    ctx: typer.Context,
    city: CityOpt = "gimpo",
    citizens: Annotated[int, typer.Option(min=1)] = 2000,
    merchants: Annotated[int, typer.Option(min=1)] = 200,
    days: Annotated[int, typer.Option(min=1)] = 30,
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """`make run`: seed the demo city if the store has none, verify it, then serve it."""
    from localpay.services.demo import demo_checker, demo_users  # noqa: PLC0415
    from localpay.services.identity import Identity  # noqa: PLC0415

    with opened(ctx) as store:
        present = city in store.cities()
    if not present:
        out.print(
            f"seeding demo city [bold]{city}[/] ({citizens:,} citizens, "
            f"{merchants:,} merchants, {days} days)…"
        )
        demo(ctx, city=city, name="김포시", citizens=citizens, merchants=merchants, days=days)
    verify(ctx, city=city)
    checker_key, checker_public = _hand_over_checker_key(ctx, city)
    with opened(ctx) as store:
        identity = Identity(store, now_ms)
        demo_checker(identity, city, checker_public)
        logins = demo_users(identity, city)
    base = f"http://{host}:{port}"
    out.print(
        f"\n[bold]localpay is running[/]: API {base}/v1/cities/{city} · "
        f"docs {base}/docs · OpenAPI {base}/openapi.json · health {base}/readyz"
    )
    out.print(f"demo log-ins for {city} (POST {base}/v1/auth/login):")
    for username, role, password in logins:
        out.print(f"  {username:<8} {role:<17} password {password}")
    out.print(
        "the checker holds their own key, outside the server's key folder; sign as checker:\n"
        f"  uv run localpay official approve PROPOSAL --city {city} --username checker"
        f" --key {checker_key}",
        highlight=False,
        soft_wrap=True,
    )
    out.print("explore the chain: uv run localpay status --city gimpo · uv run localpay verify")
    _print_witnesses(ctx, city, base)
    serve(ctx, host=host, port=port, log_level="warning")


def _hand_over_checker_key(ctx: typer.Context, city: str) -> tuple[Path, str]:
    """Maker-checker means two people: the demo server keeps the maker's key (so the
    console can propose), and hands the checker's out of its key folder to where the
    checker keeps it (`officials/` beside the store), so no one place holds both."""
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415

    settings: Settings = ctx.obj
    root = bootstrap.keys_root(settings.db, settings.keys)
    held = _beside_store(settings) / "officials"
    destination = held / city / "checker.key"
    public = KeyStore(root).hand_over(city, "official-checker", destination)
    return destination, bytes(public).hex()


def _beside_store(settings: Settings) -> Path:
    if settings.db.startswith("sqlite:///"):
        return Path(settings.db.removeprefix("sqlite:///")).parent
    return Path("data")


def _print_witnesses(ctx: typer.Context, city: str, base: str) -> None:
    """How to run the demo city's witnesses, each in its own terminal (docs/witnesses.md)."""
    from localpay.services.demo import DEMO_WITNESSES  # noqa: PLC0415
    from localpay.services.verify import chain_identity  # noqa: PLC0415

    settings: Settings = ctx.obj
    folder = bootstrap.keys_root(settings.db, settings.keys) / city
    found = [(n, folder / f"{k}.key") for k, n in DEMO_WITNESSES if (folder / f"{k}.key").exists()]
    with opened(ctx) as opened_store:
        chain = chain_identity(opened_store, city)
    if not found or chain is None:
        return
    # A real witness learns these from the city, not from the operator's server.
    pins = f" --genesis {chain.genesis_hash} --operator-key {chain.operator_key}"
    # Each witness's own store, beside the server's SQLite file (never in it).
    beside = _beside_store(settings)
    out.print(f"witnesses of {city} (quorum 2), each in its own terminal:")
    for n, (name, key) in enumerate(found):
        store = beside / f"witness-{name.split('.')[0]}.db"
        out.print(
            f"  uv run localpay witness --city {city} --follow {base} --key {key}"
            f" --db sqlite:///{store} --listen 127.0.0.1:{9101 + n}{pins}",
            highlight=False,
            soft_wrap=True,
        )


# -- server ----------------------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    ip_rate: Annotated[float, typer.Option(help="Requests/s allowed per client address")] = 2000,
    staff_rate: Annotated[
        float, typer.Option(help="Requests/s per city staff or operator credential")
    ] = 500,
) -> None:
    """Run the HTTP API with every city's sequencer in this process.

    /metrics answers operator administrators, and a scraper sending the bearer token in
    LOCALPAY_METRICS_TOKEN (the environment, not an option `ps` would show)."""
    import uvicorn  # noqa: PLC0415

    from localpay.api import telemetry  # noqa: PLC0415
    from localpay.api.app import create_app  # noqa: PLC0415
    from localpay.api.ratelimit import Limits  # noqa: PLC0415

    settings: Settings = ctx.obj
    metrics_token = _metrics_token()
    try:
        container = bootstrap.Container(settings.db, settings.keys)
        container.start()
    except (StoreError, LeaseHeld, MissingKey) as exc:
        fail(str(exc))
    telemetry.configure_logging(log_level)
    err.print(
        f"localpay serving {len(container.cities())} cities on http://{host}:{port} "
        f"(API docs http://{host}:{port}/docs)"
    )
    limits = Limits(
        per_ip_rate=ip_rate,
        per_ip_burst=2 * ip_rate,
        staff_rate=staff_rate,
        staff_burst=4 * staff_rate,
    )
    uvicorn.run(
        create_app(container, limits, metrics_token),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


#: A bearer token (RFC 6750's b64token); a shorter one could be guessed by anyone who
#: reaches the port.
METRICS_TOKEN_MIN = 32
METRICS_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")


def _metrics_token() -> str | None:
    token = os.environ.get("LOCALPAY_METRICS_TOKEN", "")
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN or not METRICS_TOKEN.fullmatch(token):
        fail(
            f"LOCALPAY_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} letters, digits or "
            "._~+/=- (e.g. `openssl rand -hex 32`)"
        )
    return token


# Command groups defined in their own modules register themselves on `app`.
from localpay.cli import officials, ops, portability, transparency, users, witness  # noqa: E402, F401
