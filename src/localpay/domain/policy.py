"""Programs as data: a versioned policy and the pure rules that read it.

A program's policy travels with its money: every lot records the program version
it was credited under, and that version's rules decide where the lot may be spent.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import msgspec

from localpay.domain.calendar import days_later_end_ms, end_of_day_ms, month_key
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX, POLICY_LIST_MAX, VALID_DAYS_MAX
from localpay.domain.money import Cap, ValidDays

Label = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]

#: The range of end dates: every expiry computed from them (the next Korean midnight)
#: stays a date Python's calendar can show, 9999-12-31 at the latest.
FIRST_END_DATE = "1970-01-01"
LAST_END_DATE = "9999-12-30"


#: How a sale gives its bonus: at purchase (upfront discount) or on spending, at month end.
SALE_MODES = ("discount", "cashback")
#: What a sale does when its discount budget cannot pay a buyer's discount.
WHEN_BUDGET_OUT = ("no_discount", "stop")
#: Periods a policy-money grant caps per person.
GRANT_PERIODS = ("once", "month", "quarter", "year")
#: Basis points: 10,000 is 100 %.
BP = 10_000


class Sale(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A program citizens buy with won (구매/충전). Every field present: the service fills
    in the defaults of PRODUCT.md (10 %, 700,000 a month, 7 days, 60 %) when it builds
    one, so the chain says exactly which rule applied."""

    mode: str
    rate_bp: Annotated[int, msgspec.Meta(ge=0, le=BP)]
    monthly_limit: Cap
    bonus_monthly_cap: Cap
    when_budget_out: str
    cashback_cap: Cap
    cancel_days: Annotated[int, msgspec.Meta(ge=0, le=365)]
    refund_used_percent: Annotated[int, msgspec.Meta(ge=0, le=100)]
    order_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]


def default_sale(**overrides: object) -> Sale:
    """A sale with the defaults of PRODUCT.md: 10 % upfront discount, 700,000 won a
    month, at most 70,000 won of discount a month, no discount once the budget is out,
    cancellation within 7 days, balance refund from 60 % used, 15 minutes to pay."""
    fields: dict[str, object] = dict(
        mode="discount",
        rate_bp=1000,
        monthly_limit=700_000,
        bonus_monthly_cap=70_000,
        when_budget_out="no_discount",
        cashback_cap=0,
        cancel_days=7,
        refund_used_percent=60,
        order_minutes=15,
    )
    fields.update(overrides)
    return Sale(**fields)  # type: ignore[arg-type]


class Grant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Policy money: how much one person may receive per period (0: no cap), and the
    eligibility rules the city's data is judged by off the chain (services/programs);
    the chain keeps the rules, the decision and a salted hash of the evidence."""

    period: str
    per_person: Cap
    min_age: Annotated[int, msgspec.Meta(ge=0, le=150)]
    max_age: Annotated[int, msgspec.Meta(ge=0, le=150)]
    residence_years: Annotated[int, msgspec.Meta(ge=0, le=150)]
    residence_total_years: Annotated[int, msgspec.Meta(ge=0, le=150)]
    employment: list[Label]


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One version of a program's rules. Zero or empty means "no restriction".

    The fields with defaults came later and are left out of the encoding while they
    hold them (omit_defaults): a program defined before they existed is still the one
    canonical encoding of its command."""

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
    sale: Sale | None = None
    grant: Grant | None = None
    #: A CEL expression over the payment's context (ledger/conditions.py), "" for none,
    #: and the engine that judges it, recorded so that a replay knows which one did.
    condition: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    engine: Annotated[str, msgspec.Meta(max_length=64)] = ""


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
    return _check_sale(policy.sale) or _check_grant(policy.grant) or _check_engine(policy)


def _check_sale(sale: Sale | None) -> str | None:
    if sale is None:
        return None
    if sale.mode not in SALE_MODES:
        return f"sale mode must be one of {', '.join(SALE_MODES)}"
    if sale.when_budget_out not in WHEN_BUDGET_OUT:
        return f"when_budget_out must be one of {', '.join(WHEN_BUDGET_OUT)}"
    if not 0 <= sale.rate_bp <= BP:
        return "the rate must be from 0 to 10000 basis points"
    if sale.mode == "discount" and sale.cashback_cap:
        return "a cashback cap belongs to a cashback sale"
    return None


def _check_grant(grant: Grant | None) -> str | None:
    if grant is None:
        return None
    if grant.period not in GRANT_PERIODS:
        return f"grant period must be one of {', '.join(GRANT_PERIODS)}"
    if grant.max_age and grant.min_age > grant.max_age:
        return "the minimum age is above the maximum age"
    if len(grant.employment) > POLICY_LIST_MAX:
        return "too many employment statuses"
    return None


def _check_engine(policy: Policy) -> str | None:
    if bool(policy.condition) != bool(policy.engine):
        return "a condition names its engine, and only a condition does"
    return None


def grant_period_key(period: str, at_ms: int) -> int:
    """Which period of a grant an instant falls in (Korean calendar): grants are capped
    per person per period, so two instants with the same key share one cap."""
    month = month_key(at_ms)
    match period:
        case "month":
            return month
        case "quarter":
            return month // 3
        case "year":
            return month // 12
    return 0


def sale_bonus(sale: Sale, amount: int) -> int:
    """The upfront discount a purchase of `amount` earns, before any cap (whole won, down)."""
    return amount * sale.rate_bp // BP if sale.mode == "discount" else 0


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
