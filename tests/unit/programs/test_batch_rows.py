"""A disbursement file's rows judged in order: the running total against the budget, the
per-person cap counting earlier rows of the same file, whole won only."""

from __future__ import annotations

from localpay.services.programs import rows as v
from localpay.services.programs.rows import Facts, judge
from localpay.sim import gimpo


def facts(budget: int) -> Facts:
    return Facts(
        program="rewards",
        policy=gimpo.programs(365)["rewards"],
        budget=budget,
        wallets=frozenset({"w-1", "w-2", "w-3"}),
        granted={"w-3": 90_000},
        references=set(),
        decisions={},
    )


def test_the_row_that_would_exceed_the_budget_is_short_and_a_later_one_may_fit() -> None:
    f = facts(150_000)
    first = judge(1, ["w-1", "100000", "rewards", "a"], f, 0)
    short = judge(2, ["w-2", "60000", "rewards", "b"], f, 1)
    fits = judge(3, ["w-2", "50000", "rewards", "c"], f, 1)
    assert (first.verdict, first.row) == (v.OK, 0)
    assert (short.verdict, short.row) == (v.BUDGET_SHORT, -1)
    assert (fits.verdict, fits.row) == (v.OK, 1)
    exact = facts(100_000)
    assert judge(1, ["w-1", "100000", "rewards", "a"], exact, 0).verdict == v.OK


def test_the_cap_counts_the_ledgers_period_and_earlier_rows_of_the_file() -> None:
    f = facts(10_000_000)
    assert judge(1, ["w-3", "10000", "rewards", "a"], f, 0).verdict == v.OK  # 90,000 + 10,000
    assert judge(2, ["w-3", "1", "rewards", "b"], f, 1).verdict == v.OVER_CAP
    assert judge(3, ["w-1", "60000", "rewards", "c"], f, 1).verdict == v.OK
    assert judge(4, ["w-1", "40001", "rewards", "d"], f, 2).verdict == v.OVER_CAP


def test_amounts_are_whole_won_in_digits() -> None:
    f = facts(10_000_000)
    for amount in ("0", "-5", "1.5", "1e3", "١٢", " ", "1,000"):
        assert judge(1, ["w-1", amount, "rewards", "a"], f, 0).verdict == v.MALFORMED, amount


def test_a_repeated_line_is_a_duplicate_even_when_the_first_was_refused() -> None:
    f = facts(0)
    assert judge(1, ["w-1", "100", "rewards", "a"], f, 0).verdict == v.BUDGET_SHORT
    assert judge(2, ["w-1", "100", "rewards", "a"], f, 0).verdict == v.DUPLICATE
