"""`localpay merchant ...`: the merchant registry for officials and operators.

`check-brn` checks a business registration number on this machine. `applications` reads
the registry's table in the store (accounts masked, nothing sealed is opened).
`suspend` and `reinstate` are an official's decisions: they go to the server as that
official (maker-checker), so the same rules and approvals apply as in the console.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
import uuid
from typing import Annotated, Any

import httpx
import typer

from localpay.adapters.sql.registry import SqlRegistryRepository
from localpay.domain import brn
from localpay.domain.calendar import KST
from localpay.entrypoints.cli.app import CityOpt, fail, opened, out
from localpay.services.registry.ports import record_of
from localpay.services.registry.service import SUSPEND_REASONS
from localpay.services.registry.tiers import tier_of

merchants = typer.Typer(
    help="The merchant registry: applications, suspensions", no_args_is_help=True
)
commands = typer.Typer()
commands.add_typer(merchants, name="merchant")

UrlOpt = Annotated[
    str, typer.Option("--url", envvar="LOCALPAY_URL", help="The server, e.g. http://127.0.0.1:8000")
]
UserOpt = Annotated[str, typer.Option("--username", help="Your official log-in")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input")
]
MerchantArg = Annotated[str, typer.Argument(help="The merchant's id, e.g. m-00042")]


@merchants.command("check-brn")
def check_brn(number: Annotated[str, typer.Argument(help="e.g. 123-45-67890")]) -> None:
    """Is a business registration number well-formed (its check digit)? Well-formed is
    not registered: only the tax office's register says that."""
    try:
        digits = brn.normalise(number)
    except brn.BadBrn as exc:
        fail(f"{number}: {exc}")
    out.print(f"{brn.formatted(digits)}: well-formed (check digit {digits[9]})", highlight=False)


@merchants.command("applications")
def applications(
    ctx: typer.Context,
    city: CityOpt,
    status: Annotated[str, typer.Option(help="pending, approved, refused or all")] = "pending",
) -> None:
    """The city's applications, newest first: id, status, merchant, category, area,
    revenue tier, the masked account and the trading name."""
    if status not in ("pending", "approved", "refused", "all"):
        fail("--status is pending, approved, refused or all")
    with opened(ctx) as store:
        rows = SqlRegistryRepository(store).page(city, None if status == "all" else status, 200)
    for a in map(record_of, rows):
        out.print(
            f"{a.id:<22} {a.status:<9} {a.merchant:<14} {a.category:<16} {a.area:<15}"
            f" {tier_of(a.revenue):<11} {a.account_mask:<24} {a.name}",
            highlight=False,
        )


@merchants.command("suspend")
def suspend(
    merchant: MerchantArg,
    city: CityOpt,
    reason: Annotated[str, typer.Option(help=f"One of {', '.join(SUSPEND_REASONS)}")],
    username: UserOpt,
    url: UrlOpt = "http://127.0.0.1:8000",
    password_stdin: PasswordStdin = False,
) -> None:
    """Propose a suspension (cash-out-fraud bars reinstatement for a year); a second
    official checks it in the console or with `localpay official approve`."""
    if reason not in SUSPEND_REASONS:
        fail(f"--reason is one of {', '.join(SUSPEND_REASONS)}")
    done = _as_official(
        url, city, username, password_stdin, f"{merchant}/suspension", {"reason": reason}
    )
    out.print(f"{merchant}: suspension proposed, {_outcome(done)}", highlight=False)


@merchants.command("reinstate")
def reinstate(
    merchant: MerchantArg,
    city: CityOpt,
    username: UserOpt,
    url: UrlOpt = "http://127.0.0.1:8000",
    password_stdin: PasswordStdin = False,
) -> None:
    """Propose a reinstatement (as many approvals as a suspension; refused while a fraud
    bar lasts, with its end date)."""
    done = _as_official(url, city, username, password_stdin, f"{merchant}/reinstatement", None)
    out.print(f"{merchant}: reinstatement proposed, {_outcome(done)}", highlight=False)


def _outcome(proposal: dict[str, Any]) -> str:
    receipt = proposal.get("receipt") or {}
    if receipt:
        return f"ledger {receipt.get('code')}"
    return f"{proposal['id']} waits for a checker"


def _as_official(
    url: str, city: str, username: str, stdin: bool, path: str, body: dict[str, str] | None
) -> dict[str, Any]:
    password = sys.stdin.readline().rstrip("\n") if stdin else getpass.getpass()
    with httpx.Client(base_url=url, timeout=60) as client:
        try:
            r = client.post(
                "/v1/auth/login", json={"city": city, "username": username, "password": password}
            )
            if r.status_code != 200:
                fail(_problem(r))
            headers = {
                "Authorization": f"Bearer {r.json()['token']}",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            r = client.post(
                f"/v1/cities/{city}/registry/merchants/{path}", json=body, headers=headers
            )
        except httpx.TransportError as exc:
            fail(f"cannot reach {url}: {exc}")
    if r.status_code != 201:
        fail(_problem(r))
    return dict(r.json())


def _problem(r: httpx.Response) -> str:
    try:
        found = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    detail = found.get("detail") or found.get("title", "")
    if found.get("barred_until_ms"):
        until = dt.datetime.fromtimestamp(found["barred_until_ms"] / 1000, KST).date()
        detail = f"{detail} (barred until {until.isoformat()})"
    return f"{found.get('code', r.status_code)}: {detail}"
