"""`localpay backup` and `localpay restore`: whole-store copies for the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.sql.backups import BackupError, backup, restore
from localpay.entrypoints.cli.app import Settings, fail, out
from localpay.ledger.ports import StoreError

commands = typer.Typer()


@commands.command("backup")
def backup_command(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="A new file to write")],
) -> None:
    """Back up the whole store (every city) while it keeps running."""
    settings: Settings = ctx.obj
    try:
        size = backup(settings.db, out_file)
    except (BackupError, OSError) as exc:
        fail(str(exc))
    out.print(f"backed up to {out_file} ({size:,} bytes); key files are not included")


@commands.command("restore")
def restore_command(
    ctx: typer.Context,
    backup_file: Annotated[Path, typer.Argument(help="A file made by `localpay backup`")],
    force: Annotated[bool, typer.Option(help="Restore over a store that holds cities")] = False,
) -> None:
    """Restore a backup into the (empty) store given by --db, then run `localpay verify`."""
    settings: Settings = ctx.obj
    try:
        store = bootstrap.open_store(settings.db)
        cities = store.cities()
        store.close()
        kind = restore(settings.db, backup_file, cities, force)
    except (BackupError, StoreError, OSError) as exc:
        fail(str(exc))
    out.print(f"restored a {kind} backup; now run: localpay --db … verify")
