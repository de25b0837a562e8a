"""`localpay export` and `localpay import`: a city takes its whole chain elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from localpay.cli.main import CityOpt, app, fail, opened, out
from localpay.services.archive import ArchiveError, export_city, import_city


@app.command("export")
def export_command(
    ctx: typer.Context,
    city: CityOpt,
    out_file: Annotated[Path, typer.Option("--out", help="A new archive file")],
) -> None:
    """Write the city's chain (genesis, blocks, transactions, cosignatures) to one file."""
    if out_file.exists():
        fail(f"{out_file} exists: choose a new file name")
    with opened(ctx) as store:
        try:
            summary = export_city(store, city, out_file)
        except ArchiveError as exc:
            out_file.unlink(missing_ok=True)
            fail(str(exc))
    out.print(f"exported {city}: {summary['lines']:,} lines, sha256 {summary['sha256']}")


@app.command("import")
def import_command(
    ctx: typer.Context,
    archive: Annotated[Path, typer.Argument(help="A file made by `localpay export`")],
) -> None:
    """Load an exported city into this store, re-executing and checking every block."""
    with opened(ctx) as store:
        try:
            summary = import_city(store, archive)
        except ArchiveError as exc:
            fail(str(exc))
    out.print(
        f"imported {summary['city']}: {summary['blocks']:,} blocks, "
        f"{summary['txs']:,} transactions replayed, log root {summary['log_root']}"
    )
