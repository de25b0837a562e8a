"""Whether a program's discount budget is used up, read from the city's ledger state.

The state is the sequencer's (read-only here): `program.budget` is what the program may
still pay out, `sale.when_budget_out` what happens then. "Used up" means the budget no
longer pays the discount of a small order (SMALL_ORDER won): the ledger gives a discount
whole or not at all (ledger/sales.py), so a few won left over pay nobody's discount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from localpay.domain.policy import sale_bonus
from localpay.ledger.sales import sale_of
from localpay.services.cities.ledgers import Ledgers

#: The order whose discount the budget must still cover to count as not used up.
SMALL_ORDER: Final = 10_000


@dataclass(frozen=True)
class Budget:
    """A sale's budget now: `left` won, `used_up`, and `when_out` ("no_discount"|"stop")."""

    left: int
    used_up: bool
    when_out: str

    @property
    def ended(self) -> bool:
        """The sale stops when its budget is out, and it is."""
        return self.used_up and self.when_out == "stop"


BudgetReader = Callable[[str, str], Budget | None]


def no_budget(city: str, program: str) -> Budget | None:
    """For a process that serves no ledger (the CLI): budgets are not known there."""
    return None


def ledger_budget(ledgers: Ledgers) -> BudgetReader:
    """A reader of the budget of (city, program) from the running sequencer's state."""

    def read(city: str, program: str) -> Budget | None:
        found = ledgers.sequencer(city).state.programs.get(program)
        sale = sale_of(found) if found is not None else None
        if found is None or sale is None:
            return None
        need = max(1, sale_bonus(sale[1], SMALL_ORDER))
        return Budget(found.budget, found.budget < need, sale[1].when_budget_out)

    return read
