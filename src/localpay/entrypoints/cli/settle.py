"""`localpay settle ...`: settlement from the command line (services/settlement).

The same service as the API and the console: an instant payout by its idempotency key,
the daily batch (run after the cut-off), a poll of the bank (files still waiting are
sent, reports and statements taken), a statement file imported and reconciled, the
batches, the exceptions queue, the reserve proofs, a payout account registered. Account
numbers are printed masked. Errors are one line and a non-zero exit (cli/app.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Final

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.cli.app import CityOpt, Settings, fail, out
from localpay.ledger.ports import StoreError
from localpay.services.settlement.ports import Party, PayoutBatch, ReserveProof
from localpay.services.settlement.service import SettlementService
from localpay.services.settlement.views import mask_number

settle = typer.Typer(help="Settlement: payouts to bank accounts, statements, reserves",
                     no_args_is_help=True)  # fmt: skip
commands = typer.Typer()
commands.add_typer(settle, name="settle")

#: The largest statement file read (a day's camt.053 of a city is far smaller).
STATEMENT_MAX: Final = 16 * 1024 * 1024

FileArg = Annotated[Path, typer.Argument(help="A camt.053.001.08 file", dir_okay=False)]


@contextmanager
def service(ctx: typer.Context) -> Iterator[SettlementService]:
    settings: Settings = ctx.obj
    try:
        container = bootstrap.Container(settings.db, settings.keys, master_file=settings.master_key)
    except (StoreError, LocalpayError) as exc:
        fail(str(exc))
    try:
        found: SettlementService | None = getattr(container, "settlement", None)
        if found is None:
            fail("settlement is not configured in this installation")
        yield found
    except LocalpayError as exc:
        fail(str(exc))
    finally:
        container.close()


def _batch_line(batch: PayoutBatch) -> str:
    return (
        f"{batch.id}  {batch.kind:<7} {batch.status:<8} {batch.execution.isoformat()}"
        f"  {batch.total:>12,}원  {len(batch.lines)} line(s)"
    )


def _proof_line(proof: ReserveProof) -> str:
    day = proof.statement_day.isoformat() if proof.statement_day else "-"
    state = "backed" if not proof.shortfall else f"SHORTFALL {proof.shortfall:,}원"
    return (
        f"checkpoint {proof.size}  supply {proof.supply:,}  in transit {proof.in_transit:,}"
        f"  trust {proof.trust:,} ({day})  unbooked {proof.unbooked:,}"
        f"  ratio {proof.ratio:.4f}  {state}"
    )


@settle.command("payout")
def payout(
    ctx: typer.Context,
    city: CityOpt,
    merchant: Annotated[str, typer.Option("--merchant", help="The shop, e.g. m-00000")],
    amount: Annotated[int, typer.Option("--amount", min=1, help="Whole won")],
    key: Annotated[str, typer.Option("--key", help="Idempotency key: the same key, one payout")],
) -> None:
    """Pay part of a shop's balance to its bank account now."""
    with service(ctx) as svc:
        batch = svc.instant(city, merchant, amount, key, now_ms())
        out.print(_batch_line(batch), highlight=False)


@settle.command("daily")
def daily(ctx: typer.Context, city: CityOpt) -> None:
    """The daily batch: every shop's balance, paid the next business day."""
    with service(ctx) as svc:
        batches = svc.daily(city, now_ms())
        for batch in batches:
            out.print(_batch_line(batch), highlight=False)
        if not batches:
            out.print("nothing to pay out", highlight=False)


@settle.command("poll")
def poll(ctx: typer.Context, city: CityOpt) -> None:
    """Send files still waiting; take the bank's reports and statements."""
    with service(ctx) as svc:
        got = svc.poll(city, now_ms())
        out.print(
            f"sent {got.sent}, reports {got.reports} ({got.returned} returned),"
            f" statements {got.statements} ({got.exceptions} exceptions)",
            highlight=False,
        )


@settle.command("import")
def import_statement(ctx: typer.Context, city: CityOpt, file: FileArg) -> None:
    """Import a camt.053 statement of the trust account and reconcile it."""
    try:
        with file.open("rb") as f:
            data = f.read(STATEMENT_MAX + 1)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if len(data) > STATEMENT_MAX:
        fail(f"{file} is larger than {STATEMENT_MAX // 1024 // 1024} MiB")
    with service(ctx) as svc:
        record = svc.import_statement(city, data, now_ms())
        out.print(
            f"statement {record.statement_id} of {record.day.isoformat()}: {record.entries}"
            f" entries, {record.matched} matched, {record.exceptions} exceptions;"
            f" closing {record.closing:,}원",
            highlight=False,
        )


@settle.command("batches")
def batches(
    ctx: typer.Context,
    city: CityOpt,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """The city's payout files, newest first."""
    with service(ctx) as svc:
        found = svc.batches(city, None, limit)
        for batch in found:
            out.print(_batch_line(batch), highlight=False)
        if not found:
            out.print("no payout files yet", highlight=False)


@settle.command("exceptions")
def exceptions(
    ctx: typer.Context,
    city: CityOpt,
    every: Annotated[bool, typer.Option("--all", help="Resolved ones too")] = False,
) -> None:
    """Statement entries that did not match the ledger."""
    with service(ctx) as svc:
        found = svc.exceptions(city, None if every else "open")
        for e in found:
            out.print(
                f"#{e.id} {e.status:<8} {e.reason:<18} {e.direction} {e.amount:>12,}원"
                f"  line {e.line}  {e.end_to_end or '-'}  {e.detail}"
                + (f"  note: {e.note}" if e.note else ""),
                highlight=False,
            )
        if not found:
            out.print("no exceptions", highlight=False)


@settle.command("resolve")
def resolve(
    ctx: typer.Context,
    city: CityOpt,
    ident: Annotated[int, typer.Argument(help="The exception's number")],
    note: Annotated[str, typer.Option("--note", help="What was done about it")],
) -> None:
    """Resolve an exception with a note."""
    with service(ctx) as svc:
        svc.resolve(city, ident, note)
        out.print(f"exception #{ident} resolved", highlight=False)


@settle.command("reserves")
def reserves(
    ctx: typer.Context,
    city: CityOpt,
    limit: Annotated[int, typer.Option(min=1, max=365)] = 10,
    now: Annotated[bool, typer.Option("--now", help="Prove at the current checkpoint first")] = (
        False
    ),
) -> None:
    """The reserve proofs: units on the chain against won in trust."""
    with service(ctx) as svc:
        if now:
            svc.prove(city, now_ms())
        found = svc.repo.proofs(city, limit)
        for proof in found:
            out.print(_proof_line(proof), highlight=False)
        if not found:
            out.print("no proof yet (one is made with each reconciled statement)", highlight=False)
        if any(p.shortfall for p in found[:1]):
            raise typer.Exit(2)  # the latest proof is short: scripts and monitors see it


@settle.command("account")
def account(
    ctx: typer.Context,
    city: CityOpt,
    owner: Annotated[str, typer.Option("--owner", help="The shop (or wallet) paid")],
    bank: Annotated[str, typer.Option("--bank", help="The bank's 3-digit code, e.g. 088")],
    number: Annotated[str, typer.Option("--number", help="The account number")],
    holder: Annotated[str, typer.Option("--holder", help="The holder's name, as the bank has it")],
) -> None:
    """Register the account an owner's payouts go to."""
    digits = number.replace("-", "")
    if len(bank) != 3 or not bank.isdigit():
        fail("--bank is the bank's 3-digit code, e.g. 088")
    if not digits.isdigit() or not 6 <= len(digits) <= 20:
        fail("--number is the account number: 6 to 20 digits (dashes allowed)")
    if not holder.strip():
        fail("--holder is the holder's name as the bank has it")
    with service(ctx) as svc:
        digest = svc.register_account(city, owner, Party(holder.strip(), bank, digits), now_ms())
        out.print(f"{owner}: {bank} {mask_number(digits)} ({digest[:12]}…)", highlight=False)


DayArg = Annotated[str, typer.Option("--day", help="The day, YYYY-MM-DD (Korean calendar)")]


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--day is a date like 2027-02-10, not {text!r}")


@settle.command("closures")
def closures(ctx: typer.Context, city: CityOpt) -> None:
    """The city's own bank closures (beyond Korea's holidays, which count anyway)."""
    with service(ctx) as svc:
        found = svc.repo.closures(city)
        for day, reason in found.items():
            out.print(f"{day.isoformat()}  {reason}", highlight=False)
        if not found:
            out.print("no closures of the city's own (Korea's holidays always count)")


@settle.command("close")
def close_day(
    ctx: typer.Context,
    city: CityOpt,
    day: DayArg,
    reason: Annotated[str, typer.Option("--reason", help="Why the bank does not settle")],
) -> None:
    """Add a day the city's bank does not settle: payouts roll past it."""
    when = _day(day)
    with service(ctx) as svc:
        svc.add_closure(city, when, reason)
        out.print(f"{when.isoformat()} closed: {reason.strip()}", highlight=False)


@settle.command("reopen")
def reopen_day(ctx: typer.Context, city: CityOpt, day: DayArg) -> None:
    """Remove one of the city's closures."""
    when = _day(day)
    with service(ctx) as svc:
        svc.remove_closure(city, when)
        out.print(f"{when.isoformat()} is a business day again", highlight=False)
