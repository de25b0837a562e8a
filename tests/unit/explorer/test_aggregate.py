"""The explorer's pure aggregation: supply by the ledger's definitions, payments by day
and program or area, and small cells suppressed (with the one more that a total would
give away)."""

from __future__ import annotations

from localpay.services.explorer.aggregate import (
    Cell,
    Day,
    Shown,
    payment_table,
    supply_series,
    suppress_row,
)


def _cells(**counts: int) -> dict[str, Cell]:
    return {key: Cell(n, n * 1_000) for key, n in counts.items()}


def test_supply_is_cumulative_minted_less_burned() -> None:
    days = {"2026-12-01": Day(minted=1_000), "2026-12-02": Day(burned=300), "2026-12-03": Day()}
    days["2026-12-04"] = Day(minted=50, burned=50)
    points = supply_series(days)
    assert [(p.date, p.minted, p.burned, p.outstanding) for p in points] == [
        ("2026-12-01", 1_000, 0, 1_000),
        ("2026-12-02", 0, 300, 700),
        ("2026-12-04", 50, 50, 700),
    ]


def test_a_cell_of_fewer_than_five_is_hidden_with_its_amount() -> None:
    row = suppress_row("d", _cells(a=4, b=7, c=9), Cell(20, 20_000))
    assert row.cells["a"] == Shown(None, None)
    assert row.cells["a"].suppressed
    # One hidden cell and a shown total: the smallest other cell is hidden too.
    assert row.cells["b"].suppressed
    assert row.cells["c"] == Shown(9, 9_000)
    assert row.total == Shown(20, 20_000)


def test_five_is_shown_and_zero_is_not_hidden() -> None:
    row = suppress_row("d", _cells(a=5, b=0), Cell(5, 5_000))
    assert row.cells["a"] == Shown(5, 5_000)
    assert row.cells["b"] == Shown(0, 0)
    assert row.total == Shown(5, 5_000)


def test_two_hidden_cells_need_no_more_and_a_small_total_is_hidden() -> None:
    row = suppress_row("d", _cells(a=1, b=2, c=30), Cell(33, 33_000))
    assert [k for k, s in row.cells.items() if s.suppressed] == ["a", "b"]
    assert suppress_row("d", _cells(a=3), Cell(3, 3_000)).total.suppressed


def test_a_lone_small_cell_beside_zeros_hides_the_total() -> None:
    row = suppress_row("d", _cells(a=2, b=0), Cell(6, 6_000))  # a multi-program day
    assert row.cells["a"].suppressed and row.total.suppressed


def test_payments_by_program_and_area_newest_day_first() -> None:
    old, new = Day(), Day()
    for _ in range(6):
        old.add_payment("gurae", {"general": 1_000})
    new.add_payment("gurae", {"general": 700, "youth": 300})
    for _ in range(5):
        new.add_payment("haseong", {"youth": 2_000})
    days = {"2026-12-01": old, "2026-12-02": new}
    by_program = payment_table(days, "program")
    assert by_program.columns == ["general", "youth"]
    assert [r.date for r in by_program.rows] == ["2026-12-02", "2026-12-01"]
    newest = by_program.rows[0]
    assert newest.cells["general"].suppressed  # one payment of general money that day
    # The total less the youth cell would give the general one away: hidden too.
    assert newest.cells["youth"].suppressed
    assert newest.total == Shown(6, 11_000)
    by_area = payment_table(days, "area")
    assert by_area.rows[0].cells["gurae"].suppressed
    assert by_area.rows[0].cells["haseong"].suppressed  # else 6 - 5 gives gurae away
    assert by_area.rows[0].total == Shown(6, 11_000)
    assert by_area.rows[1].cells["gurae"] == Shown(6, 6_000)
    assert by_area.rows[1].cells["haseong"] == Shown(0, 0)


def test_the_threshold_is_a_parameter() -> None:
    days = {"d": Day()}
    days["d"].add_payment("x", {"p": 10})
    assert not payment_table(days, "area", threshold=1).rows[0].cells["x"].suppressed
    assert payment_table(days, "area").rows[0].cells["x"].suppressed
