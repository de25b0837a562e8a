"""`localpay batch ...` and `localpay eligibility ...`: policy money from the command line.

The same services as the console page (services/programs): a file is judged line by
line and kept with its report before anything moves; the maker submits it for approval
(a second official approves it: the console, or `localpay official approve`); `run`
pays the approved rows, resuming where an earlier run stopped.
"""

from __future__ import annotations

import getpass
import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.adapters.sql.approvals import SqlProposalRepository
from localpay.adapters.sql.programs import SqlProgramTables
from localpay.entrypoints.cli.app import CityOpt, Settings, fail, opened, out
from localpay.services.approvals.service import Proposals
from localpay.services.cities.ledgers import Ledgers
from localpay.services.identity.service import Principal
from localpay.services.programs.batches import Batches, Progress, Report
from localpay.services.programs.evidence import EligibilityData
from localpay.services.programs.ports import ProgramRepository

batch = typer.Typer(help="Disbursement batches of policy money", no_args_is_help=True)
eligibility = typer.Typer(help="The city's data for eligibility decisions", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(batch, name="batch")
commands.add_typer(eligibility, name="eligibility")

FileArg = Annotated[Path, typer.Argument(help="A CSV file", exists=True, dir_okay=False)]
BatchArg = Annotated[str, typer.Argument(help="The batch id, e.g. b-0123456789abcdef")]
UserOpt = Annotated[str, typer.Option("--username", help="Your log-in (a maker)")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input")
]


@dataclass
class Tools:
    batches: Batches
    eligibility: EligibilityData
    proposals: Proposals
    settings: Settings


@contextmanager
def tools(ctx: typer.Context) -> Iterator[Tools]:
    settings: Settings = ctx.obj
    with opened(ctx) as store:
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        ledgers = Ledgers(store, keys, now_ms)
        repo = ProgramRepository(SqlProgramTables(store))
        proposals = Proposals(SqlProposalRepository(store), ledgers, now_ms)
        try:
            yield Tools(
                Batches(repo, ledgers, proposals, now_ms),
                EligibilityData(repo, keys.master, ledgers, now_ms),
                proposals,
                settings,
            )
        finally:
            ledgers.close()


def _official(ctx: typer.Context, city: str, username: str, from_stdin: bool) -> Principal:
    settings: Settings = ctx.obj
    password = sys.stdin.readline().rstrip("\n") if from_stdin else getpass.getpass()
    store = bootstrap.open_store(settings.db)
    try:
        identity = bootstrap.open_identity(
            store, now_ms, master=bootstrap.master_key(settings.db, settings.keys)
        )
        principal = identity.authenticate(identity.login(city, username, password))
    finally:
        store.close()
    if principal is None or not principal.is_official:
        fail(f"{username!r} is not an official of {city!r}")
    return principal


def _say_progress(p: Progress) -> None:
    out.print(
        f"batch {p.batch}: {p.status} — {p.rows} rows, {p.total:,} won; paid {p.paid},"
        f" refused {p.refused}, to go {p.to_go}"
        + (f"; proposal {p.proposal}" if p.proposal else ""),
        highlight=False,
    )


def _say_report(report: Report) -> None:
    r = report.batch
    out.print(
        f"batch {r.id} ({r.program}): {r.lines} lines, {r.rows} valid, {r.total:,} won",
        highlight=False,
    )
    for verdict, count in sorted(report.verdicts.items()):
        out.print(f"  {verdict}: {count}", highlight=False)


@batch.command("upload")
def upload(
    ctx: typer.Context,
    file: FileArg,
    city: CityOpt,
    username: UserOpt,
    password_stdin: StdinOpt = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Default: the file's SHA-256, so the same file is one batch"),
    ] = None,
) -> None:
    """Judge every line of FILE (citizen,amount,program,reference); prints the report.
    Exits 1 when no line is valid."""
    principal = _official(ctx, city, username, password_stdin)
    key = idempotency_key or hashlib.sha256(file.read_bytes()).hexdigest()
    with tools(ctx) as t, file.open(encoding="utf-8-sig", newline="") as lines:
        report = t.batches.upload(principal, file.name, lines, key)
    _say_report(report)
    if report.batch.rows == 0:
        fail("no line is valid: there is no batch to approve")


@batch.command("show")
def show(
    ctx: typer.Context,
    batch_id: BatchArg,
    city: CityOpt,
    bad: Annotated[bool, typer.Option(help="Only the lines that are not valid")] = False,
    limit: Annotated[int, typer.Option(help="Lines to list")] = 50,
) -> None:
    """The batch's report, its progress and its lines."""
    with tools(ctx) as t:
        report = t.batches.report(city, batch_id)
        lines = t.batches.lines(city, batch_id, 0, limit, bad)
    _say_report(report)
    _say_progress(report.progress)
    for x in lines:
        out.print(
            f"  line {x.line}: {x.verdict} {x.wallet} {x.amount} {x.reference} {x.outcome}",
            highlight=False,
        )


@batch.command("submit")
def submit(
    ctx: typer.Context,
    batch_id: BatchArg,
    city: CityOpt,
    username: UserOpt,
    password_stdin: StdinOpt = False,
) -> None:
    """Propose the batch's approval; a second official approves the proposal."""
    principal = _official(ctx, city, username, password_stdin)
    with tools(ctx) as t:
        progress = t.batches.submit(principal, batch_id)
    _say_progress(progress)
    out.print(
        f"a second official approves it: localpay official approve {progress.proposal}"
        f" --city {city} --username CHECKER --key CHECKER.key (or in the console)",
        highlight=False,
        soft_wrap=True,
    )


@batch.command("run")
def run(
    ctx: typer.Context,
    batch_id: BatchArg,
    city: CityOpt,
    chunk: Annotated[int, typer.Option(help="Rows per store transaction")] = 1000,
) -> None:
    """Pay the approved batch's rows; resumes where an earlier run stopped."""
    with tools(ctx) as t:
        progress = t.batches.run(city, batch_id, chunk=chunk)
    _say_progress(progress)


@eligibility.command("load")
def load(
    ctx: typer.Context,
    file: FileArg,
    city: CityOpt,
    program: Annotated[str, typer.Option(help="The program the data is judged for")],
    decide: Annotated[
        bool, typer.Option(help="Decide at once (and delete the data); else it waits sealed")
    ] = True,
    on: Annotated[str | None, typer.Option(help="Decision date (default: today, KST)")] = None,
) -> None:
    """Load the city's data (citizen,birth,residence,employment), sealed at rest."""
    day = _date(on)
    with tools(ctx) as t, file.open(encoding="utf-8-sig", newline="") as lines:
        loaded = t.eligibility.load(city, program, lines)
        out.print(f"{loaded} citizens' data loaded for {program}, sealed", highlight=False)
        if decide:
            _say_decided(t, city, program, day)


@eligibility.command("decide")
def decide_now(
    ctx: typer.Context,
    city: CityOpt,
    program: Annotated[str, typer.Option(help="The program")],
    on: Annotated[str | None, typer.Option(help="Decision date (default: today, KST)")] = None,
) -> None:
    """Decide on the waiting data; the data is deleted, its salted hash kept."""
    day = _date(on)
    with tools(ctx) as t:
        _say_decided(t, city, program, day)


def _say_decided(t: Tools, city: str, program: str, day: date | None) -> None:
    decided = t.eligibility.decide(city, program, day)
    out.print(
        f"decided: {decided.eligible} eligible, {decided.ineligible} not; the data is deleted",
        highlight=False,
    )


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--on takes a date like 2026-12-01, got {text!r}", 2)
