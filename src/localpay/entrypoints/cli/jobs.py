"""`localpay jobs run expiry|lapse|cashback|notices --city gimpo [--at ISO]`: a scheduled
job by hand (services/jobs), for an operator catching up or checking one.

`localpay serve` runs the jobs itself; this command takes the city's write lease, so it
runs while the server is stopped (with the server up it says the lease is held). The
commands it submits have the same derived ids as the scheduler's: running it after the
scheduler, or twice, does nothing twice."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.domain.calendar import KST
from localpay.entrypoints.cli.app import CityOpt, Settings, fail, opened, out
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs.service import JOBS

group = typer.Typer(help="Scheduled jobs: expiry, lapsed orders, cashback, notices")
commands = typer.Typer()
commands.add_typer(group, name="jobs", no_args_is_help=True)

#: How far ahead of this machine's clock --at may be (a job never runs ahead of time).
AHEAD_MS = 60_000


def at_ms(text: str | None, now: int) -> int:
    """--at as epoch ms: ISO 8601, Korean time unless it names an offset; not later than
    now (the ledger stamps blocks with the real time, so a job cannot act in the future)."""
    if text is None:
        return now
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at takes an ISO 8601 time such as 2027-01-01T00:00, got {text!r}", 2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    found = int(moment.timestamp() * 1000)
    if found > now + AHEAD_MS:
        fail(f"--at {text} is in the future: a job runs as of now or an earlier time", 2)
    return found


@group.command("run")
def run(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="expiry, lapse, cashback or notices")],
    city: CityOpt,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="Run as of this time (ISO 8601, Korean time by default; not later)"
        ),
    ] = None,
) -> None:
    """Run one job now (or as of --at) and say what it did in one line."""
    from localpay.entrypoints.api import telemetry  # noqa: PLC0415

    telemetry.configure_logging("warning")  # the line below says what the run did
    if job not in JOBS:
        fail(f"no job {job!r}: one of {', '.join(JOBS)}", 2)
    when = at_ms(at, now_ms())
    settings: Settings = ctx.obj
    with opened(ctx) as store:
        if city not in store.cities():
            fail(f"no city {city!r} in this store")
        keys = bootstrap.open_keys(settings.db, settings.keys, settings.master_key)
        ledgers = Ledgers(store, keys, now_ms)
        try:
            jobs, runs = bootstrap.open_jobs(store, ledgers)
            done = jobs.run(job, city, when)
            if job != "lapse":
                runs.record(city, job, done.period, when, done.line)
        finally:
            ledgers.close()
    out.print(f"{job} {city} {done.period}: {done.line}", highlight=False)
