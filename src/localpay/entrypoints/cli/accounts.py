"""`localpay balance`, `merchant`, `program`, `blocks`, `block`, `tx`: read-only views."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from localpay.entrypoints.cli.app import CityOpt, opened, out, print_json
from localpay.services.cities import inspect

commands = typer.Typer()


@commands.command()
def balance(
    ctx: typer.Context,
    city: CityOpt,
    wallet: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A wallet's balance per program, each lot with its expiry."""
    with opened(ctx) as store:
        view = inspect.wallet_view(store, city, wallet)
        if as_json:
            print_json(view)
            return
        out.print(
            f"wallet [bold]{wallet}[/] {'(card)' if view.card else ''}: "
            f"[bold]{view.balance:,}[/] won"
        )
        table = Table("lot", "program", "amount", "expires (KST)", "origin")
        for lot in view.lots:
            table.add_row(lot.lot, lot.program, f"{lot.amount:,}", lot.expires, lot.origin)
        out.print(table)


@commands.command()
def merchant(ctx: typer.Context, city: CityOpt, merchant_id: str) -> None:
    """A merchant's status, category, area and balance."""
    with opened(ctx) as store:
        print_json(inspect.merchant_view(store, city, merchant_id))


@commands.command()
def program(ctx: typer.Context, city: CityOpt, program_id: str) -> None:
    """A program's versions (policies) and budget."""
    with opened(ctx) as store:
        print_json(inspect.program_view(store, city, program_id))


@commands.command()
def blocks(
    ctx: typer.Context, city: CityOpt, last: Annotated[int, typer.Option(min=1, max=1000)] = 10
) -> None:
    """The last blocks of a city's chain."""
    with opened(ctx) as store:
        table = Table("height", "time (ms)", "txs", "log size", "log root")
        for h in inspect.blocks_view(store, city, last):
            table.add_row(
                str(h.height),
                str(h.time_ms),
                str(h.tx_count),
                f"{h.log_size:,}",
                h.log_root[:16] + "…",
            )
        out.print(table)


@commands.command()
def block(ctx: typer.Context, city: CityOpt, height: int) -> None:
    """One block: header, checkpoint and transactions (JSON)."""
    with opened(ctx) as store:
        print_json(inspect.block_view(store, city, height))


@commands.command()
def tx(ctx: typer.Context, city: CityOpt, tx_id: str) -> None:
    """One transaction by its id: command, signers, result, place in the chain (JSON)."""
    with opened(ctx) as store:
        print_json(inspect.tx_view(store, city, tx_id))
