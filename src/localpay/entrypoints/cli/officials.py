"""`localpay official ...`: an official who holds their own key signs proposals here.

The key file stays on the official's machine; the server gets only the signature over
the proposal's exact body bytes (services/approvals/service.py). With a server that holds
neither key of an approval, the operator cannot approve money on its own.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from localpay.domain.commands import signing_message
from localpay.entrypoints.cli.app import CityOpt, fail, load_key, new_key_file, out

officials = typer.Typer(
    help="Officials who hold their own keys: sign proposals on this machine",
    no_args_is_help=True,
)
commands = typer.Typer()
commands.add_typer(officials, name="official")

#: Tries of one approval while the server answers "unknown" (a 5xx or no connection).
ATTEMPTS = 10

UrlOpt = Annotated[
    str, typer.Option("--url", envvar="LOCALPAY_URL", help="The server, e.g. http://127.0.0.1:8000")
]


@officials.command("key")
def new_key(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the new key (0600)")],
) -> None:
    """Make an official's key on this machine; prints the public key to register."""
    key = new_key_file(out_path, "an official's key")
    public = bytes(key.verify_key).hex()
    out.print(f"public key {public}", highlight=False)
    out.print(
        "register the log-in with it: localpay user add --city CITY --role city_checker"
        f" --username NAME --official-key pub:{public}",
        highlight=False,
        soft_wrap=True,
    )


@officials.command("approve")
def approve(
    proposal: Annotated[str, typer.Argument(help="The proposal's id, e.g. pr-0123456789abcdef")],
    city: CityOpt,
    username: Annotated[str, typer.Option(help="Your log-in")],
    key: Annotated[Path, typer.Option("--key", help="Your key file (hex seed)")],
    url: UrlOpt = "http://127.0.0.1:8000",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Sign a proposal with your own key: as its checker, or as its maker (first)."""
    signing = load_key(key)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    with httpx.Client(base_url=url, timeout=60) as client:
        token = _login(client, city, username, password)
        headers = {"Authorization": f"Bearer {token}"}
        shown = client.get(f"/v1/cities/{city}/proposals/{proposal}", headers=headers)
        if shown.status_code != 200:
            fail(_problem(shown))
        body = str(shown.json()["body"]).encode()
        signature = {
            "key": bytes(signing.verify_key).hex(),
            "sig": signing.sign(signing_message(body)).signature.hex(),
        }
        done = _send_once(
            client,
            f"/v1/cities/{city}/proposals/{proposal}/approvals",
            {"signature": signature},
            {**headers, "Idempotency-Key": os.urandom(16).hex()},
        )
    receipt = done.get("receipt") or {}
    out.print(
        f"{proposal}: {done['status']}"
        + (f", ledger {receipt.get('code')} (tx {receipt.get('id')})" if receipt else ""),
        highlight=False,
    )


def _login(client: httpx.Client, city: str, username: str, password: str) -> str:
    try:
        r = client.post(
            "/v1/auth/login", json={"city": city, "username": username, "password": password}
        )
    except httpx.TransportError as exc:
        fail(f"cannot reach {client.base_url}: {exc}")
    if r.status_code != 200:
        fail(_problem(r))
    return str(r.json()["token"])


def _send_once(
    client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST with one Idempotency-Key, asking again while the answer is unknown."""
    for attempt in range(ATTEMPTS):
        try:
            r = client.post(path, json=body, headers=headers)
        except httpx.TransportError:
            time.sleep(min(2**attempt * 0.2, 5))
            continue
        if r.status_code >= 500:
            time.sleep(min(2**attempt * 0.2, 5))
            continue
        if r.status_code not in (200, 201):
            fail(_problem(r))
        return dict(r.json())
    fail(f"no answer from the server after {ATTEMPTS} tries; run the same command again")


def _problem(r: httpx.Response) -> str:
    try:
        found = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    return f"{found.get('code', r.status_code)}: {found.get('detail') or found.get('title', '')}"
