"""Pure aggregation for the public explorer: per-day supply and payment cells.

Public figures are aggregates only: a cell is a (day, program) or (day, area) pair with a
count of payments and their amount, never a wallet or a single transaction. A cell of
fewer than SMALL_CELL payments is suppressed (shown as "<5", its amount hidden): the
usual disclosure-control rule for published counts, so that a shop or a citizen with one
payment in a neighbourhood on a day cannot be picked out. When a row shows its total and
exactly one cell of it is suppressed, the smallest other cell is suppressed too
(secondary suppression), else the total minus the shown cells would reveal it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: Cells with fewer payments than this are not shown.
SMALL_CELL: Final = 5


@dataclass(slots=True)
class Cell:
    count: int = 0
    amount: int = 0

    def add(self, amount: int) -> None:
        self.count += 1
        self.amount += amount


@dataclass(slots=True)
class Day:
    """What one Korean calendar day added to a city's figures."""

    minted: int = 0
    burned: int = 0
    #: Won of purchases booked (구매), less those cancelled, and the discounts and
    #: cashback paid to buyers out of program budgets (less discounts a cancellation
    #: gave back). Neither changes the supply by itself: a purchase mints its won (in
    #: `minted`), a discount moves units from a budget to a wallet.
    sold: int = 0
    discounts: int = 0
    payments: Cell = field(default_factory=Cell)
    by_program: dict[str, Cell] = field(default_factory=dict)
    by_area: dict[str, Cell] = field(default_factory=dict)

    def add_payment(self, area: str, drawn: dict[str, int]) -> None:
        """One payment at a shop in `area`, drawn from programs as `drawn` (program ->
        won). It counts once in the day's total and once in each program it drew from."""
        total = sum(drawn.values())
        self.payments.add(total)
        self.by_area.setdefault(area, Cell()).add(total)
        for program, amount in drawn.items():
            self.by_program.setdefault(program, Cell()).add(amount)


@dataclass(frozen=True, slots=True)
class SupplyPoint:
    date: str
    minted: int
    burned: int
    #: Units in existence at the end of the day: everything minted so far less everything
    #: burned (the ledger's own Totals: supply = minted - burned). Won owed back to
    #: citizens (pending payouts of cancelled, refunded or expired purchases) are still
    #: units in existence until the bank pays them out.
    outstanding: int
    sold: int = 0
    discounts: int = 0


def supply_series(days: dict[str, Day]) -> list[SupplyPoint]:
    """Minted, burned, outstanding, sold and discounts per day, oldest first (days with
    none of them skipped)."""
    points, outstanding = [], 0
    for date in sorted(days):
        day = days[date]
        outstanding += day.minted - day.burned
        if day.minted or day.burned or day.sold or day.discounts:
            points.append(
                SupplyPoint(date, day.minted, day.burned, outstanding, day.sold, day.discounts)
            )
    return points


@dataclass(frozen=True, slots=True)
class Shown:
    """A published cell: None for a suppressed count (shown as "<5") and its amount."""

    count: int | None
    amount: int | None

    @property
    def suppressed(self) -> bool:
        return self.count is None


_HIDDEN: Final = Shown(None, None)


@dataclass(frozen=True, slots=True)
class Row:
    date: str
    cells: dict[str, Shown]
    total: Shown


def _shown(cell: Cell, threshold: int) -> Shown:
    if 0 < cell.count < threshold:
        return _HIDDEN
    return Shown(cell.count, cell.amount)


def suppress_row(
    date: str, cells: dict[str, Cell], total: Cell, threshold: int = SMALL_CELL
) -> Row:
    """The published row of one day: small cells hidden, and one more if exactly one is
    hidden while the total is shown (the difference would give it away)."""
    shown = {key: _shown(cell, threshold) for key, cell in cells.items()}
    row_total = _shown(total, threshold)
    hidden = [key for key, s in shown.items() if s.suppressed]
    if len(hidden) == 1 and not row_total.suppressed:
        others = [(cells[k].count, k) for k, s in shown.items() if not s.suppressed and s.count]
        if others:
            shown[min(others)[1]] = _HIDDEN
        else:
            row_total = _HIDDEN
    return Row(date, shown, row_total)


@dataclass(frozen=True, slots=True)
class Table:
    columns: list[str]
    #: Newest day first.
    rows: list[Row]


def payment_table(
    days: dict[str, Day], by: str, last: int = 31, threshold: int = SMALL_CELL
) -> Table:
    """Payments per day by "program" or by "area", the `last` days with payments."""
    dated = [(d, days[d]) for d in sorted(days, reverse=True) if days[d].payments.count][:last]
    columns = sorted({key for _, day in dated for key in _cells(day, by)})
    rows = []
    for date, day in dated:
        cells = {key: _cells(day, by).get(key, Cell()) for key in columns}
        rows.append(suppress_row(date, cells, day.payments, threshold))
    return Table(columns, rows)


def _cells(day: Day, by: str) -> dict[str, Cell]:
    if by == "program":
        return day.by_program
    if by == "area":
        return day.by_area
    raise ValueError(f"aggregate by 'program' or 'area', not {by!r}")
