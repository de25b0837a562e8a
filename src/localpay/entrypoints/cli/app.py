"""The root of `localpay`'s command line and the helpers every feature module shares.

The CLI is thin: parse, call a service, render. Every failure is one line on stderr and
a non-zero exit; secrets are never printed. Feature modules (cities, accounts, sim,
server, ...) each hold a `commands` Typer that `main.py` adds to this root.
"""

from __future__ import annotations

import json
import string
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import nacl.signing
import typer
from rich.console import Console

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import write_key_file
from localpay.adapters.sql.runner import SqlStore
from localpay.domain.errors import LocalpayError
from localpay.ledger.ports import StoreError
from localpay.ledger.replay import Pins
from localpay.services.cities.ledgers import Ledgers


class _Root(typer.Typer):
    """The root app: every LocalpayError that reaches it becomes one line and exit 1.

    This is the CLI's one mapping of the error tree (domain/errors.py); commands only
    call `fail` for what is the CLI's own (a bad option, a file it cannot write)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except LocalpayError as exc:
            say_error(str(exc))
            raise SystemExit(1) from None


app = _Root(
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
    #: A master key file (--master-key / LOCALPAY_MASTER_KEY_FILE), else the environment's.
    master_key: str | None = None


def say_error(message: str) -> None:
    """The CLI's one way to say what went wrong: one line on stderr."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    say_error(message)
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
    master_key: Annotated[
        str | None,
        typer.Option(
            "--master-key",
            envvar="LOCALPAY_MASTER_KEY_FILE",
            help="File of the master key that seals the secrets at rest (never beside the"
            " data); else LOCALPAY_MASTER_KEY",
        ),
    ] = None,
) -> None:
    ctx.obj = Settings(bootstrap.db_url(db), keys, master_key)


@contextmanager
def opened(ctx: typer.Context) -> Iterator[SqlStore]:
    settings: Settings = ctx.obj
    try:
        store = bootstrap.open_store(settings.db)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    except LocalpayError as exc:
        fail(str(exc))
    finally:
        store.close()


@contextmanager
def running(ctx: typer.Context, clock: Callable[[], int] = now_ms) -> Iterator[Ledgers]:
    settings: Settings = ctx.obj
    with opened(ctx) as store:
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        ledgers = Ledgers(store, keys, clock)
        try:
            yield ledgers
        finally:
            ledgers.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(msgspec.to_builtins(value), ensure_ascii=False, indent=2) + "\n")


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


def beside_store(settings: Settings) -> Path:
    if settings.db.startswith("sqlite:///"):
        return Path(settings.db.removeprefix("sqlite:///")).parent
    return Path("data")


def new_key_file(path: Path, what: str) -> nacl.signing.SigningKey:
    """A new key in a new file (0600, never over an existing one), or a one-line failure."""
    key = nacl.signing.SigningKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_key_file(path, key)
    except FileExistsError:
        fail(f"{path} exists: {what} is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror or exc}", 2)
    return key


def load_key(path: Path) -> nacl.signing.SigningKey:
    """A key file as adapters/keystore.KeyStore writes it: the hex of a 32-byte seed."""
    try:
        seed = bytes.fromhex(path.read_text().strip())
    except OSError as exc:
        fail(f"cannot read the key file {path}: {exc.strerror or exc}", 2)
    except ValueError:
        fail(f"{path} does not hold a hex Ed25519 seed", 2)
    if len(seed) != 32:
        fail(f"{path} holds {len(seed)} bytes; an Ed25519 seed is 32", 2)
    return nacl.signing.SigningKey(seed)
