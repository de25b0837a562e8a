"""`localpay operator rotate`: hand a city's block signing to a new operator key."""

from __future__ import annotations

import typer

from localpay.entrypoints.cli.app import CityOpt, fail, out, running
from localpay.services.cities.officials import rotate_operator

operator = typer.Typer(help="The operator key that signs a city's blocks", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(operator, name="operator")


@operator.command("rotate")
def rotate(ctx: typer.Context, city: CityOpt) -> None:
    """Make a new operator key in the key folder and rotate to it on the chain, signed by
    the current operator key and the officials' keys this server holds. Run it with the
    server stopped (it takes the city's lease); from the next block on, the new key signs."""
    with running(ctx) as ledgers:
        done = rotate_operator(ledgers, city)
    receipt = done.receipt
    if not receipt.ok:
        fail(f"rotation refused: {receipt.code} ({receipt.message})")
    for line in (
        f"rotated the operator key of [bold]{city}[/] in block {receipt.height} (tx {receipt.id})",
        f"old key {done.old_key} (retired: destroy its file once nothing needs it)",
        f"new key {done.new_key} (key file {done.key_name})",
        "verifiers keep pinning the genesis key (--operator-key): verify, witnesses and"
        " receipts follow the rotation from it",
    ):
        out.print(line, highlight=False, soft_wrap=True)
