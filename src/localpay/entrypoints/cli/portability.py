"""`localpay export` and `localpay import`: a city takes its chain to another operator.

The archive format and the runbook for a move without a freeze are in docs/export.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from localpay.entrypoints.cli.app import (
    CityOpt,
    GenesisPin,
    OperatorPin,
    err,
    fail,
    opened,
    out,
    pins_of,
)
from localpay.services.portability.archive import read_manifest
from localpay.services.portability.errors import ExportError, ImportRefused
from localpay.services.portability.exporter import export_city
from localpay.services.portability.importer import import_city

commands = typer.Typer()


@contextmanager
def _bar(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, counting transactions; yields the callback."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("txs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(what, total=None)

        def tell(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tell


@commands.command("export")
def export_command(
    ctx: typer.Context,
    city: CityOpt,
    out_file: Annotated[Path, typer.Option("--out", help="The archive to write (a new file)")],
    first: Annotated[
        int,
        typer.Option(
            "--from", min=0, help="First block: 0 (the whole chain) or where a copy ends + 1"
        ),
    ] = 0,
    height: Annotated[
        int | None, typer.Option("--height", min=0, help="Last block (default: the head now)")
    ] = None,
) -> None:
    """Write the city's chain (blocks, transactions, cosignatures) to one file, while it runs."""
    started = time.perf_counter()
    with opened(ctx) as store:
        try:
            with _bar(f"exporting {city}") as tell:
                m = export_city(
                    store, city, out_file, first_height=first, last_height=height, progress=tell
                )
        except ExportError as exc:
            fail(str(exc))
    elapsed = time.perf_counter() - started
    out.print(
        f"exported {city}: blocks {m.first_height}..{m.height} ({m.blocks:,} blocks,"
        f" {m.txs:,} txs, {m.cosignatures:,} cosignatures) to {out_file} in {elapsed:.1f} s;"
        f" log size {m.log_size:,}, log root {m.log_root}, head {m.head_hash}",
        highlight=False,
        soft_wrap=True,
    )


@commands.command("import")
def import_command(
    ctx: typer.Context,
    archive: Annotated[Path, typer.Argument(help="A file made by `localpay export`")],
    genesis: GenesisPin = None,
    operator_key: OperatorPin = None,
) -> None:
    """Replay an exported chain into this store (--db), checking every block before writing it.
    Pin the chain you expect with --genesis and --operator-key (from the city itself)."""
    pins = pins_of(genesis, operator_key)
    try:
        claimed = read_manifest(archive)
    except ImportRefused as exc:
        fail(f"{archive}: {exc}")
    started = time.perf_counter()
    with opened(ctx) as store:
        try:
            with _bar(f"importing {claimed.city}") as tell:
                m = import_city(store, archive, progress=tell, pins=pins)
        except ImportRefused as exc:
            fail(f"{archive}: {exc}")
    elapsed = time.perf_counter() - started
    out.print(
        f"imported {m.city} ({m.name}): blocks {m.first_height}..{m.height} ({m.blocks:,} blocks,"
        f" {m.txs:,} txs replayed and verified, {m.cosignatures:,} cosignatures) in"
        f" {elapsed:.1f} s; log size {m.log_size:,}, log root {m.log_root}, head {m.head_hash}",
        highlight=False,
        soft_wrap=True,
    )
