"""A program version drafted in the console's form: typed fields to a Policy checked as
the ledger checks it, each fault placed beside its field, and back (editing starts from
the current version)."""

from __future__ import annotations

import pytest

from localpay.domain.policy import Grant, default_sale
from localpay.ledger import conditions
from localpay.services.console import drafts
from localpay.services.console.preview import check_condition, sample_context
from localpay.testing.builders import policy


def test_an_empty_sale_takes_the_usual_rules_and_a_condition_its_engine() -> None:
    found = drafts.draft({"name": "Lunch", "sale_on": "1", "condition": "hour >= 11"})
    assert found.errors == {}
    assert found.policy is not None
    assert found.policy.sale == default_sale()
    assert found.policy.engine == conditions.ENGINE
    assert drafts.draft({"name": "Open"}).policy == policy("Open")  # no sale, no engine


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": ""}, "name", drafts.NEEDED),
        ({"name": "x", "daily_cap": "1.5"}, "daily_cap", drafts.NOT_WHOLE),
        ({"name": "x", "daily_cap": "10", "monthly_cap": "5"}, "daily_cap", "daily cap"),
        ({"name": "x", "sale_on": "1", "rate_bp": "10001"}, "rate_bp", "10000"),
        ({"name": "x", "sale_on": "1", "mode": "gift"}, "mode", "sale mode"),
        ({"name": "x", "sale_on": "1", "cashback_cap": "5"}, "cashback_cap", "cashback"),
        ({"name": "x", "grant_on": "1", "min_age": "30", "max_age": "19"}, "min_age", "age"),
        ({"name": "x", "valid_until": "2026-02-30"}, "valid_until", "YYYY-MM-DD"),
        ({"name": "x", "condition": "amount +"}, "condition", "Syntax error"),
        ({"name": "x", "condition": "amount > 0.5"}, "condition", "whole numbers only"),
        ({"name": "x", "condition": "amount"}, "condition", "true or false"),
        (
            {"name": "x", "allowed_categories": ["cafe"], "denied_categories": ["cafe"]},
            "allowed_categories",
            "both allowed and denied",
        ),
    ],
)
def test_each_fault_is_placed_beside_its_field(
    fields: dict[str, str | list[str]], field: str, words: str
) -> None:
    found = drafts.draft(fields)
    assert found.policy is None
    assert list(found.errors) == [field]
    assert words in found.errors[field]


def test_editing_starts_from_the_current_version() -> None:
    current = policy(
        "Youth",
        allowed_categories=["academy", "bakery"],
        areas=["gurae-dong"],
        daily_cap=50_000,
        monthly_cap=300_000,
        transferable=True,
        sale=default_sale(mode="cashback", rate_bp=500, cashback_cap=20_000),
        grant=Grant("year", 100_000, 19, 34, 1, 0, ["unemployed"]),
        condition="wallet_age_days >= 30",
        engine=conditions.ENGINE,
    )
    assert drafts.draft(drafts.fields_of(current)).policy == current


def test_try_it_judges_a_sample_and_refuses_loose_types() -> None:
    lunch = "weekday <= 5 && hour >= 11 && hour < 14"
    assert check_condition(lunch, sample_context({"weekday": 5, "hour": 13})).verdict is True
    assert check_condition(lunch, sample_context({"weekday": 5, "hour": 14})).verdict is False
    assert check_condition("1 / (amount - amount) == 0", sample_context({})).verdict is False
    with pytest.raises(ValueError, match="whole number"):
        sample_context({"hour": "12"})
    with pytest.raises(ValueError, match="whole number"):
        sample_context({"hour": True})
    with pytest.raises(ValueError, match="not a context variable"):
        sample_context({"temperature": 3})
