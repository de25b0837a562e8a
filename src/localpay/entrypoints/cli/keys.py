"""`localpay keys ...`: the master key that seals the secrets at rest (docs/operations.md).

The key folder's seeds and the store's TOTP secrets are sealed under one master key
(adapters/secrets.py). `new-master` makes a master key file, `status` says which master
key each secret is under (never a secret), and `rotate-master` re-seals everything under
a new one, one secret at a time, so that a re-run after a crash finishes the job.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import (
    MasterKey,
    MasterKeyError,
    read_master_key_file,
    write_master_key_file,
)
from localpay.adapters.sql.identity import SqlIdentityRepository, totp_status
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.adapters.sql.webhooks import SqlWebhooks
from localpay.entrypoints.cli.app import Settings, fail, opened, out
from localpay.ledger.ports import LeaseHeld

keys = typer.Typer(help="The master key that seals the secrets at rest", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(keys, name="keys")

NewKeyFile = Annotated[
    Path,
    typer.Option(
        "--new-key-file",
        help="The new master key's file (made, one version up, if it does not exist);"
        " never in the data or key folder",
    ),
]


def _forbidden(settings: Settings) -> tuple[Path, Path]:
    """Where no master key file may be: the key folder and the data folder."""
    return bootstrap.keys_root(settings.db, settings.keys), bootstrap.data_folder(settings.db)


@keys.command("new-master")
def new_master(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="A new file (mode 0600)")],
    version: Annotated[int, typer.Option(min=1, help="The master key's version")] = 1,
) -> None:
    """Make a master key file. It is shown to no one: keep it away from the data."""
    settings: Settings = ctx.obj
    key = MasterKey.generate(version, f"the master key file {out_file}")
    try:
        write_master_key_file(out_file, key, _forbidden(settings))
    except FileExistsError:
        fail(f"{out_file} exists: a master key is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot create {out_file}: {exc.strerror or exc}", 2)
    out.print(f"master key v{version} ({key.key_id}) written to {out_file}", highlight=False)


@keys.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Which master key (version and id) each secret is under; never a secret."""
    settings: Settings = ctx.obj
    master: MasterKey | None = None
    try:
        master = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    except MasterKeyError as exc:
        missing = str(exc)
    folder = KeyStore(bootstrap.keys_root(settings.db, settings.keys), master)
    with opened(ctx) as store:
        totp = totp_status(store)
    files = folder.status()
    if as_json:
        given = {"version": master.version, "id": master.key_id} if master else None
        report = {"master_key": given, "key_files": files, "totp_secrets": totp}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    if master is None:
        out.print(f"master key: none given ({missing})", highlight=False, soft_wrap=True)
    else:
        out.print(f"master key: v{master.version} ({master.key_id}) from {master.source}")
    _print_counts(f"key files in {folder.root}", files)
    _print_counts("TOTP secrets in the store", totp)


def _print_counts(what: str, counts: Counter[str]) -> None:
    found = ", ".join(f"{n} under {label}" for label, n in sorted(counts.items()))
    out.print(f"{what}: {found or 'none'}", highlight=False, soft_wrap=True)


@keys.command("rotate-master")
def rotate_master(ctx: typer.Context, new_key_file: NewKeyFile) -> None:
    """Re-seal every key file and TOTP secret under a new master key.

    The server must be stopped (the command holds every city's lease meanwhile). Each
    secret is replaced whole (written, synced, renamed; one row per update): after a
    crash, running the same command again finishes the job."""
    settings: Settings = ctx.obj
    old = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    folder = KeyStore(bootstrap.keys_root(settings.db, settings.keys), old)
    with opened(ctx) as store, ExitStack() as leases:
        for city in store.cities():
            try:
                leases.enter_context(store.lease(city))
            except LeaseHeld:
                fail(f"city {city!r} is being served: stop the server before rotating")
        new = _new_master_key(new_key_file, old, _forbidden(settings))
        files = folder.reseal(new)
        totp = SqlIdentityRepository(store, old).reseal_totp(new)
        hooks = SqlWebhooks(store).reseal(old, new)
        settled = SqlSettlement(store, old).reseal(old, new)
    out.print(
        f"re-sealed {files} key files and {totp} TOTP secrets under master key"
        f" v{new.version} ({new.key_id}); the old master key opens none of them.\n"
        f"from now on give --master-key {new_key_file} (or LOCALPAY_MASTER_KEY_FILE)",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"re-sealed {hooks} webhook endpoints' secrets", highlight=False)
    out.print(f"re-sealed {settled} payout accounts and payout files", highlight=False)


def _new_master_key(path: Path, old: MasterKey, forbidden: tuple[Path, Path]) -> MasterKey:
    """The master key in `path`, made one version above `old` if the file does not exist."""
    if not path.exists():
        made = MasterKey.generate(old.version + 1, f"the master key file {path}")
        write_master_key_file(path, made, forbidden)
        out.print(f"made master key v{made.version} ({made.key_id}) in {path}")
    new = read_master_key_file(path, forbidden)
    if new.key_id == old.key_id:
        fail(f"{path} holds the master key in use (v{old.version}): nothing to rotate to", 2)
    if new.version <= old.version:
        fail(
            f"{path} holds master key v{new.version}; the new one must be above v{old.version}"
            " so that old and new can be told apart",
            2,
        )
    return new
