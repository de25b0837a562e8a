"""`localpay`: the command line, composed once from its feature modules.

Each feature module holds a `commands` Typer and imports only `cli/app.py`'s helpers
(and lower features), so no module registers itself on import and there is no circle.
"""

from __future__ import annotations

import typer

from localpay.entrypoints.cli import (
    accounts,
    bank_sim,
    batches,
    cardhost,
    cards,
    cities,
    directory,
    jobs,
    keys,
    officials,
    operator,
    ops,
    portability,
    programs,
    qr,
    registry,
    report,
    sales,
    server,
    settle,
    sim,
    transparency,
    users,
    waiting,
    witness,
)
from localpay.entrypoints.cli.app import app as root

FEATURES = (
    cities,
    accounts,
    directory,
    sim,
    server,
    users,
    keys,
    officials,
    operator,
    ops,
    portability,
    transparency,
    witness,
    batches,
    bank_sim,
    programs,
    jobs,
    registry,
    waiting,
    sales,
    cardhost,
    qr,
    cards,
    settle,
    report,
)


def build() -> typer.Typer:
    for feature in FEATURES:
        root.add_typer(feature.commands)
    return root


app = build()


def run() -> None:
    app()
