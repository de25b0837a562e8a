"""`localpay user ...`: people who sign in to the API (officials, merchant staff, auditors)."""

from __future__ import annotations

import getpass
import re
import sys
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.entrypoints.cli.app import Settings, fail, opened, out
from localpay.services.identity.service import IdentityError

users = typer.Typer(help="People who sign in to the API", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(users, name="user")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        fail("the two passwords differ")
    return first


@users.command("add")
def add(
    ctx: typer.Context,
    city: Annotated[str, typer.Option(help="City id, or * for an operator administrator")],
    role: Annotated[
        str,
        typer.Option(
            help="merchant_owner, merchant_cashier, city_maker, "
            "city_checker, city_auditor, operator_admin"
        ),
    ],
    username: Annotated[str, typer.Option()],
    merchant: Annotated[str | None, typer.Option(help="For merchant roles")] = None,
    official_key: Annotated[
        str | None,
        typer.Option(
            help="For makers and checkers: the server's key file name (e.g. official-maker),"
            " or pub:<public key hex> for an official who holds their own key"
            " (`localpay official key`)"
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    totp: Annotated[bool, typer.Option(help="Enrol a TOTP second factor")] = False,
) -> None:
    """Create a user. The password is asked for (or read from stdin), never an argument."""
    settings: Settings = ctx.obj
    password = _password(password_stdin)
    with opened(ctx) as store:
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        if official_key is None and role in ("city_maker", "city_checker"):
            # A new official gets a new key; it acts once officials appoint it on the chain.
            official_key = f"official-{username}"
            public = bytes(keys.get_or_create(city, official_key).verify_key).hex()
            out.print(
                f"new official key {official_key}: {public}\n"
                "appoint it on the chain: POST /v1/cities/{city}/proposals "
                f'{{"kind":"appoint_official","params":{{"key":"{public}",'
                f'"role":"{role}","active":true}}}}'
            )
        elif official_key is not None and official_key.startswith("pub:"):
            if not re.fullmatch(r"pub:[0-9a-f]{64}", official_key):
                fail("--official-key pub: takes the 64 hex digits of an Ed25519 public key")
        elif official_key is not None and official_key not in keys.names(city):
            fail(f"no key file {official_key!r} for city {city!r}")
        identity = bootstrap.open_identity(store, now_ms, master=keys.master)
        try:
            principal = identity.create_user(city, role, username, password, merchant, official_key)
        except IdentityError as exc:
            fail(str(exc))
        out.print(f"created {role} {username!r} in {city} ({principal.id})")
        if totp:
            secret = identity.enroll_totp(principal.id)
            out.print(f"TOTP secret (add it to an authenticator app now; shown once): {secret}")
