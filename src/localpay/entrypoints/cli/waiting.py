"""`localpay sale open|queue|pause|resume`: a sale opening's waiting room, for operators
(services/waiting; docs/waiting-room.md). Works on the store directly: a running server
reads the change at its next tick (at most TICK_MS later)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.waiting import SqlWaitingRepository
from localpay.domain.calendar import KST
from localpay.entrypoints.cli.app import CityOpt, Settings, fail, opened, out, print_json
from localpay.services.waiting.service import (
    DEFAULT_RATE,
    DEFAULT_WINDOW_MINUTES,
    LineView,
    WaitingRoom,
)

sale = typer.Typer(help="Sale openings and their waiting rooms", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(sale, name="sale")

ProgramOpt = Annotated[str, typer.Option("--program", help="The program sold, e.g. general")]
JsonOpt = Annotated[bool, typer.Option("--json", help="As JSON")]


def _room(ctx: typer.Context, store: SqlStore) -> WaitingRoom:
    settings: Settings = ctx.obj
    master = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    # No ledger here: the budget is shown by the server's console, not by this command.
    return WaitingRoom(SqlWaitingRepository(store, master), now_ms)


def _at(text: str) -> int:
    """ISO 8601; without a UTC offset it is Korean time."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r} is not an ISO 8601 time, e.g. 2026-12-01T09:00+09:00")
    if when.tzinfo is None:
        when = when.replace(tzinfo=KST)
    return int(when.timestamp() * 1000)


def _show(view: LineView | None, program: str, as_json: bool) -> None:
    if view is None:
        fail(f"no sale opening for {program!r}")
    o = view.opening
    figures = {
        "program": o.program,
        "opens_at": dt.datetime.fromtimestamp(o.opens_ms / 1000, KST).isoformat(),
        "rate": o.rate,
        "window_minutes": o.window_ms // 60_000,
        "paused": o.paused,
        "waiting": o.waiting,
        "admitted": o.head,
        "issued": o.issued,
    }
    if as_json:
        print_json(figures)
        return
    for name, value in figures.items():
        out.print(f"{name:>15}  {value}", highlight=False)


@sale.command("open")
def open_sale(
    ctx: typer.Context,
    city: CityOpt,
    program: ProgramOpt,
    at: Annotated[str, typer.Option("--at", help="When it opens (ISO 8601; no offset: KST)")],
    rate: Annotated[int, typer.Option(help="People admitted a second")] = DEFAULT_RATE,
    window: Annotated[
        int, typer.Option(help="Minutes an admitted person has to order")
    ] = DEFAULT_WINDOW_MINUTES,
    as_json: JsonOpt = False,
) -> None:
    """Schedule a sale opening (or change its time, rate or window; places are kept)."""
    with opened(ctx) as store:
        if city not in store.cities():
            fail(f"no city {city!r} in this store")
        room = _room(ctx, store)
        room.schedule(city, program, _at(at), rate, window)
        _show(room.view(city, program), program, as_json)


@sale.command("queue")
def queue(ctx: typer.Context, city: CityOpt, program: ProgramOpt, as_json: JsonOpt = False) -> None:
    """The line now: how many wait, how many were admitted, the rate."""
    with opened(ctx) as store:
        _show(_room(ctx, store).view(city, program), program, as_json)


@sale.command("pause")
def pause(ctx: typer.Context, city: CityOpt, program: ProgramOpt) -> None:
    """Stop admitting (the line keeps its places; estimates say paused)."""
    with opened(ctx) as store:
        room = _room(ctx, store)
        room.set_paused(city, program, True)
        _show(room.view(city, program), program, False)


@sale.command("resume")
def resume(ctx: typer.Context, city: CityOpt, program: ProgramOpt) -> None:
    """Admit again, at the set rate (no burst for the time paused)."""
    with opened(ctx) as store:
        room = _room(ctx, store)
        room.set_paused(city, program, False)
        _show(room.view(city, program), program, False)
