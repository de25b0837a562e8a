"""Programs as data: a versioned policy and the pure rules that read it.

A program's policy travels with its money: every lot records the program version
it was credited under, and that version's rules decide where the lot may be spent.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import msgspec

from localpay.domain.calendar import days_later_end_ms, end_of_day_ms
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX, POLICY_LIST_MAX, VALID_DAYS_MAX
from localpay.domain.money import Cap, ValidDays

Label = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]

#: The range of end dates: every expiry computed from them (the next Korean midnight)
#: stays a date Python's calendar can show, 9999-12-31 at the latest.
FIRST_END_DATE = "1970-01-01"
LAST_END_DATE = "9999-12-30"


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One version of a program's rules. Zero or empty means "no restriction"."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    allowed_categories: list[Label]
    denied_categories: list[Label]
    areas: list[Label]
    revenue_cap: Cap
    valid_until: str
    valid_days: ValidDays
    per_payment_cap: Cap
    daily_cap: Cap
    monthly_cap: Cap
    holding_cap: Cap
    transferable: bool
    refundable: bool


class MerchantFacts(msgspec.Struct, frozen=True):
    """What a policy may look at about a merchant (no personal data)."""

    category: str
    area: str
    annual_revenue: int


def check_policy(policy: Policy) -> str | None:
    """Reason the policy is inconsistent, or None if it is usable."""
    # Decoding already bounds these; a policy built in code is checked the same way.
    caps = (
        policy.revenue_cap,
        policy.per_payment_cap,
        policy.daily_cap,
        policy.monthly_cap,
        policy.holding_cap,
    )
    if any(type(c) is not int or c < 0 or c > AMOUNT_MAX for c in caps):
        return "caps must be whole numbers from 0 (no limit) to the amount limit"
    days = policy.valid_days
    if type(days) is not int or not 0 <= days <= VALID_DAYS_MAX:
        return f"valid_days must be a whole number from 0 (none) to {VALID_DAYS_MAX}"
    if len(policy.allowed_categories) + len(policy.denied_categories) > POLICY_LIST_MAX:
        return "too many categories"
    if len(policy.areas) > POLICY_LIST_MAX:
        return "too many areas"
    if set(policy.allowed_categories) & set(policy.denied_categories):
        return "a category is both allowed and denied"
    if policy.valid_until:
        # fromisoformat alone would also take "20261231" and week dates ("2026-W53-4").
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", policy.valid_until):
            return "valid_until must be a date YYYY-MM-DD or empty"
        try:
            dt.date.fromisoformat(policy.valid_until)
        except ValueError:
            return "valid_until must be a date YYYY-MM-DD or empty"
        if not FIRST_END_DATE <= policy.valid_until <= LAST_END_DATE:
            return f"valid_until must be from {FIRST_END_DATE} to {LAST_END_DATE}"
    if policy.daily_cap and policy.monthly_cap and policy.daily_cap > policy.monthly_cap:
        return "the daily cap exceeds the monthly cap"
    return None


_LATEST_EXPIRY_MS = end_of_day_ms(LAST_END_DATE)


def lot_expiry_ms(policy: Policy, credited_at_ms: int, default_days: int) -> int:
    """When money credited now under this policy stops being spendable.

    The sooner of the program's end date and its validity in days; with neither,
    the city's default (5 years for purchased money under the Act).
    """
    candidates = []
    if policy.valid_until:
        candidates.append(end_of_day_ms(policy.valid_until))
    days = policy.valid_days or (0 if policy.valid_until else default_days)
    if days:
        candidates.append(days_later_end_ms(credited_at_ms, days))
    # Never past the last showable date, whatever the block time: every read can show it.
    return min(*candidates, _LATEST_EXPIRY_MS)


def evaluate(policy: Policy, merchant: MerchantFacts) -> Code:
    """May money of this policy be spent at this merchant? OK or the denial code.

    Checks run in the order of the result code precedence, so the first fault
    reported is always the same one.
    """
    category = merchant.category
    if category in policy.denied_categories:
        return Code.CATEGORY_DENIED
    if policy.allowed_categories and category not in policy.allowed_categories:
        return Code.CATEGORY_DENIED
    if policy.areas and merchant.area not in policy.areas:
        return Code.AREA_DENIED
    if policy.revenue_cap and merchant.annual_revenue > policy.revenue_cap:
        return Code.REVENUE_CAP_EXCEEDED
    return Code.OK
