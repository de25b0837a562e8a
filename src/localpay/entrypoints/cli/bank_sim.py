"""`localpay bank-sim ...`: the simulated bank (sim/bank/) as its own process, and the
secret it shares with the platform (kept sealed in the platform's key store)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.bank.http import bank_secret
from localpay.entrypoints.cli.app import Settings, fail, out
from localpay.sim.bank.server import BankServer

bank = typer.Typer(
    help="The simulated bank: virtual accounts and deposit notices", no_args_is_help=True
)
commands = typer.Typer()
commands.add_typer(bank, name="bank-sim")

#: Where `make run` serves the simulated bank.
DEFAULT_PORT = 8600


def read_secret(path: Path) -> bytes:
    """The shared secret from a file of hex digits (what `bank-sim secret` writes)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the bank's secret from {path}: {exc}")
    if len(secret) < 16:
        fail(f"the bank's secret in {path} is shorter than 16 bytes")
    return secret


@bank.command("serve")
def serve(
    notify: Annotated[
        str,
        typer.Option(help="The platform's webhook, e.g. http://127.0.0.1:8000/v1/bank/deposits"),
    ],
    secret_file: Annotated[Path, typer.Option(help="File of the shared secret (hex)")],
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1)")] = DEFAULT_PORT,
    db: Annotated[Path, typer.Option(help="The bank's own SQLite file")] = Path("data/bank.db"),
) -> None:
    """Serve the simulated bank until interrupted."""
    secret = read_secret(secret_file)
    db.parent.mkdir(parents=True, exist_ok=True)
    server = BankServer(db, notify, secret, port)
    out.print(f"simulated bank on {server.url}/ (notices to {notify})", highlight=False)
    server.serve_forever()


@bank.command("secret")
def secret(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the secret (hex, 0600)")],
) -> None:
    """Write the secret this installation shares with its bank, for `bank-sim serve`."""
    settings: Settings = ctx.obj
    keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(bank_secret(keys).hex() + "\n")
    out.print(f"wrote the bank's secret to {out_file}", highlight=False)
