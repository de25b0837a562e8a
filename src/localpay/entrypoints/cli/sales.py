"""`localpay sale status|orders`: the sale programs' budgets and the orders placed
through the sales service (services/sales), read from the store without a sequencer."""

from __future__ import annotations

from typing import Annotated

import msgspec
import typer

from localpay.adapters.sql.sales import SqlSaleRepository
from localpay.entrypoints.cli.app import CityOpt, fail, opened, out
from localpay.entrypoints.cli.waiting import sale
from localpay.ledger.state import Program, Purchase
from localpay.services.cities.inspect import require_city

# One `localpay sale` group with the waiting room's commands (open, queue, pause, resume):
# these two are added to it, so neither module hides the other's.
commands = typer.Typer()


@sale.command("status")
def status(ctx: typer.Context, city: CityOpt) -> None:
    """Each sale program: discount rate, budget left, discounts held for open orders, sold."""
    with opened(ctx) as store:
        require_city(store, city)
        found = [
            msgspec.json.decode(raw, type=Program)
            for key, raw in store.state(city)
            if key.startswith("p:")
        ]
    programs = [p for p in found if p.versions[-1].sale is not None]
    if not programs:
        fail(f"no program of {city!r} is on sale")
    out.print(
        f"{'program':<12} {'rate':>6} {'budget':>14} {'reserved':>12} {'sold':>14}"
        f" {'discounts':>12}"
    )
    for p in programs:
        sale_rules = p.versions[-1].sale
        assert sale_rules is not None
        out.print(
            f"{p.id:<12} {sale_rules.rate_bp / 100:>5g}% {p.budget:>14,} {p.reserved:>12,}"
            f" {p.sold:>14,} {p.bonus:>12,}",
            highlight=False,
        )


@sale.command("orders")
def orders(
    ctx: typer.Context,
    city: CityOpt,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
) -> None:
    """Orders placed through the sales service: virtual account, amount, status on the chain."""
    with opened(ctx) as store:
        require_city(store, city)
        placed = SqlSaleRepository(store).orders(city, limit=limit)
        statuses = {}
        for o in placed:
            raw = store.state_value(city, f"u:{o.order}")
            statuses[o.order] = msgspec.json.decode(raw, type=Purchase).status if raw else "?"
    if not placed:
        out.print(f"no orders in {city} yet")
        return
    for o in placed:
        out.print(
            f"{o.order}  {o.wallet:<12} {o.program:<10} {o.amount:>10,} +{o.bonus:>8,}"
            f"  {o.account}  {statuses[o.order]}",
            highlight=False,
        )
