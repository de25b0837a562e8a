"""`localpay shop ...` and `localpay area ...`: the public names of a city's shops and
neighbourhoods (the directory, off the chain: services/directory)."""

from __future__ import annotations

from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.clock import now_ms
from localpay.entrypoints.cli.app import CityOpt, opened, out

shops = typer.Typer(help="The names of a city's shops, as people see them", no_args_is_help=True)
areas = typer.Typer(help="The names of a city's neighbourhoods", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(shops, name="shop")
commands.add_typer(areas, name="area")

NameArg = Annotated[str, typer.Argument(help="The name in Korean, e.g. 구래동 행복 베이커리")]
EnglishOpt = Annotated[str, typer.Option("--en", help="The name in English (romanized)")]


@shops.command("name")
def name_shop(
    ctx: typer.Context, city: CityOpt, merchant: str, name: NameArg, en: EnglishOpt
) -> None:
    """Name a registered shop (the wallet's shop list, receipts, the counter screen)."""
    with opened(ctx) as store:
        bootstrap.open_directory(store).name_shop(city, merchant, name, en, now_ms())
    out.print(f"{merchant}: {name} ({en})", highlight=False)


@shops.command("list")
def list_shops(
    ctx: typer.Context,
    city: CityOpt,
    query: Annotated[str, typer.Option(help="Part of a name, or a shop's id")] = "",
    area: Annotated[str, typer.Option(help="An area label, e.g. gurae-dong")] = "",
    category: Annotated[str, typer.Option(help="A category label, e.g. bakery")] = "",
) -> None:
    """Shops as the wallet lists them: id, status, category, area and name."""
    with opened(ctx) as store:
        found = bootstrap.open_directory(store).shops(city, query, area, category, limit=None)
    for shop in found:
        out.print(
            f"{shop.merchant:<14} {shop.status:<10} {shop.category:<16} {shop.area_name:<8}"
            f" {shop.name}",
            highlight=False,
        )


@areas.command("name")
def name_area(ctx: typer.Context, city: CityOpt, area: str, name: NameArg, en: EnglishOpt) -> None:
    """Name a neighbourhood label of the chain (읍·면·동), e.g. gurae-dong 구래동."""
    with opened(ctx) as store:
        bootstrap.open_directory(store).name_areas(city, [(area, name, en)])
    out.print(f"{area}: {name} ({en})", highlight=False)
