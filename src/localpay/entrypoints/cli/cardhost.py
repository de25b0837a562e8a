"""`localpay cardhost`: the ISO 8583 authorization host alone (docs/cardhost.md).

`localpay serve` runs the same host beside the HTTP API (`--card-port`, default 8583,
0 = off). Alone, this process holds the cities' sequencers itself, so it is for a store
no `localpay serve` runs; beside the API, run `serve --card-port` instead.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated, Final

import typer

from localpay import bootstrap
from localpay.entrypoints.cardhost.server import CardHost, HostThread
from localpay.entrypoints.cli.app import Settings, err, fail
from localpay.ledger.ports import LeaseHeld, StoreError
from localpay.services.cities.ledgers import MissingKey

#: The port ISO 8583 hosts listen on by custom.
CARD_PORT: Final = 8583

commands = typer.Typer()

CardPort = Annotated[
    int,
    typer.Option(
        "--card-port",
        min=0,
        max=65535,
        envvar="LOCALPAY_CARD_PORT",
        help="Port of the ISO 8583 card host (0: no card host)",
    ),
]


def start_card_host(container: bootstrap.Container, address: str, port: int) -> HostThread:
    """The card host in a thread of this process (for `localpay serve`)."""
    try:
        running = HostThread(CardHost(container.cards), address, port).start()
    except OSError as exc:
        fail(f"the card host cannot listen on {address}:{port}: {exc.strerror or exc}")
    err.print(f"card host (ISO 8583) on {address}:{running.host.port}", highlight=False)
    return running


@commands.command("cardhost")
def cardhost(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = CARD_PORT,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Run the ISO 8583 authorization host alone: terminals and VANs connect over TCP."""
    from localpay.entrypoints.api import telemetry  # noqa: PLC0415

    settings: Settings = ctx.obj
    try:
        container = bootstrap.Container(settings.db, settings.keys, master_file=settings.master_key)
        container.start()
    except (StoreError, LeaseHeld, MissingKey) as exc:
        fail(str(exc))
    telemetry.configure_logging(log_level)
    try:
        asyncio.run(_serve(CardHost(container.cards), host, port))
    except OSError as exc:
        fail(f"the card host cannot listen on {host}:{port}: {exc.strerror or exc}")
    finally:
        container.close()


async def _serve(host: CardHost, address: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await host.start(address, port)
    err.print(f"localpay card host (ISO 8583) on {address}:{host.port}", highlight=False)
    await stop.wait()
    await host.stop()
