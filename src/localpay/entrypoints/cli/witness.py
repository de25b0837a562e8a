"""`localpay witness`, `witness-key`, `witness-alarm`, `witness-forks`: run and tend a witness.

A witness is an independent process with its own store and key: it follows a server's
chain feed, re-executes every block, keeps its own verified copy of the chain and
co-signs checkpoints (services/witness/; its health server entrypoints/witness/health.py;
docs/witnesses.md).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import msgspec
import typer

from localpay import bootstrap
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.witness import SqlWitnessRecords
from localpay.entrypoints.cli.app import (
    CityOpt,
    GenesisPin,
    OperatorPin,
    fail,
    load_key,
    new_key_file,
    opened,
    out,
    pins_of,
)
from localpay.entrypoints.witness.health import serve_health
from localpay.ledger.ports import LeaseHeld, StoreError
from localpay.ledger.replay import PinMismatch
from localpay.services.cities.verify import chain_identity
from localpay.services.witness.alarms import clear_alarm
from localpay.services.witness.forks import find_forks
from localpay.services.witness.settings import (
    AUDIT_INTERVAL_S,
    PAGE_BLOCKS,
    POLL_S,
    WitnessSettings,
)

#: Exit status of `localpay witness --exit-on-alarm` after an alarm.
ALARM_EXIT = 3

commands = typer.Typer()
key_app = typer.Typer(help="The witness's Ed25519 key.", no_args_is_help=True)
commands.add_typer(key_app, name="witness-key")

WitnessDb = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="LOCALPAY_WITNESS_DB",
        help="The witness's OWN store: sqlite:///path.db or postgresql://... (never the"
        " operator's)",
    ),
]


def _open(url: str) -> SqlStore:
    try:
        return bootstrap.open_store(url)
    except StoreError as exc:
        fail(str(exc))


def _listen(spec: str) -> tuple[str, int]:
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--listen takes HOST:PORT, e.g. 127.0.0.1:9100; got {spec!r}", 2)
    return host, int(port)


@commands.command("witness")
def witness_command(
    city: CityOpt,
    follow: Annotated[
        str, typer.Option("--follow", help="The server to follow, e.g. http://127.0.0.1:8000")
    ],
    key: Annotated[Path, typer.Option("--key", help="The witness key file (hex seed)")],
    db: WitnessDb,
    name: Annotated[
        str | None,
        typer.Option(help="Key name on cosignatures (default: the witness's on-chain name)"),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(help="HOST:PORT for GET /healthz (503 on alarm) and /metrics"),
    ] = None,
    page: Annotated[int, typer.Option(min=1, max=1000, help="Blocks per feed page")] = PAGE_BLOCKS,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls at the head")] = (
        POLL_S
    ),
    audit_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between pages of the history re-audit")
    ] = AUDIT_INTERVAL_S,
    peer: Annotated[
        list[str] | None,
        typer.Option(
            help="Another witness's --listen address (http://HOST:PORT), repeatable: its"
            " newest co-signed checkpoint is compared with this copy (gossip; a fork alarms)"
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    exit_on_alarm: Annotated[
        bool,
        typer.Option(help=f"Exit with status {ALARM_EXIT} on an alarm instead of staying up"),
    ] = False,
    genesis: GenesisPin = None,
    operator_key: OperatorPin = None,
) -> None:
    """Follow a city's chain: re-execute every block into an own store, co-sign checkpoints,
    raise an alarm (and sign nothing more) on any inconsistency. Pin the city's chain with
    --genesis (and --operator-key), learned from the city (docs/witnesses.md)."""
    from localpay.entrypoints.api.telemetry import configure_logging  # noqa: PLC0415

    pins = pins_of(genesis, operator_key)
    configure_logging(log_level)
    signing_key = load_key(key)
    store = _open(db)
    settings = WitnessSettings(
        city=city,
        follow=follow.rstrip("/"),
        name=name,
        page_blocks=page,
        poll_s=poll,
        audit_interval_s=audit_interval,
        peers=tuple(p.rstrip("/") for p in peer or ()),
        pins=pins,
    )
    witness = bootstrap.new_witness(store, signing_key, settings)
    health = None
    if listen:
        host, port = _listen(listen)
        try:
            health = serve_health(witness, host, port)
        except OSError as exc:
            fail(f"cannot listen on {listen}: {exc.strerror or exc}")

    signalled: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        # No locks in a signal handler: it may interrupt code that holds them.
        signalled.append(signum)
        witness.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    err_code = 0
    try:
        witness.run()
        if witness.alarmed and not exit_on_alarm:
            # Stay up, unhealthy, so that monitoring sees the alarm until someone acts.
            while not signalled:
                time.sleep(0.5)
        if witness.alarmed:
            err_code = ALARM_EXIT
        elif isinstance(witness.failure, PinMismatch):
            fail(f"{witness.failure}; nothing was written or signed")
        elif witness.failure is not None:
            err_code = 1
    except LeaseHeld as exc:
        fail(f"{exc}: another witness or a sequencer writes this store", 1)
    except StoreError as exc:
        fail(str(exc))
    finally:
        if health is not None:
            health.shutdown()
        witness.close()
        store.close()
    raise typer.Exit(err_code)


@key_app.command("new")
def new_key(
    out_file: Annotated[Path, typer.Option("--out", help="A new file for the seed (mode 0600)")],
) -> None:
    """Make a witness key; print its public key (hex) for the city's set_witnesses."""
    key = new_key_file(out_file, "a witness key")
    sys.stdout.write(bytes(key.verify_key).hex() + "\n")


@commands.command("witness-alarm")
def witness_alarm(
    city: CityOpt,
    db: WitnessDb,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget the alarm: the witness follows again")
    ] = False,
) -> None:
    """Show a witness's alarm for a city (exit 3 if there is one), or clear it."""
    store = _open(db)
    try:
        records = SqlWitnessRecords(store)
        found = clear_alarm(records, city) if clear else records.alarm(city)
    finally:
        store.close()
    if found is None:
        out.print(f"no alarm for {city}")
        return
    verb = "cleared" if clear else "ALARM"
    out.print(
        f"{verb} {city}: {found.reason} at block {found.height}: {found.detail}",
        highlight=False,
        soft_wrap=True,
    )
    if not clear:
        raise typer.Exit(ALARM_EXIT)


@commands.command("witness-forks")
def witness_forks(
    city: CityOpt,
    dbs: Annotated[list[str], typer.Argument(help="Witness stores to compare (URLs), two or more")],
) -> None:
    """Compare the checkpoints several witnesses cosigned: two roots for one size is a
    fork (exit 3), each root being signed by the operator."""
    records = []
    for url in dbs:
        store = _open(url)
        try:
            records.append(SqlWitnessRecords(store).signed_checkpoints(city))
        finally:
            store.close()
    forks = find_forks(records)
    for size, roots in forks.items():
        out.print(f"FORK {city} size {size}: roots {', '.join(sorted(roots))}", highlight=False)
    if forks:
        raise typer.Exit(ALARM_EXIT)
    common = set.intersection(*(set(r) for r in records)) if records else set()
    out.print(f"no fork: {len(common)} sizes cosigned by every store agree")


@commands.command("genesis")
def genesis_command(
    ctx: typer.Context,
    city: CityOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """The identity of a city's chain in this store (--db): its genesis hash and operator
    key, what witnesses and verifiers pin. The city publishes them itself (docs/
    operations.md): a witness must not take them from the operator's server."""
    with opened(ctx) as store:
        found = chain_identity(store, city)
    if found is None:
        fail(f"city {city!r} does not exist in this store")
    if as_json:
        sys.stdout.write(json.dumps(msgspec.to_builtins(found), ensure_ascii=False) + "\n")
        return
    for label, value in (
        ("city", found.city),
        ("name", found.name),
        ("genesis", found.genesis_hash),
        ("operator key", found.operator_key),
        ("origin", found.origin),
    ):
        out.print(f"{label:<13}{value}", highlight=False, soft_wrap=True)
    out.print(
        f"pin it: --genesis {found.genesis_hash} --operator-key {found.operator_key}",
        highlight=False,
        soft_wrap=True,
    )
