"""Where a draft program version applies, and what its CEL condition says, before any
official proposes it: the same rules the ledger will judge by (domain.policy.evaluate,
ledger.conditions), over the merchants of the ledger state as they are now."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Final

import msgspec

from localpay.domain.codes import Code
from localpay.domain.policy import MerchantFacts, Policy, check_policy, evaluate
from localpay.ledger import conditions
from localpay.ledger.state import MERCHANT_ACTIVE, CityState


class Preview(msgspec.Struct, frozen=True):
    """Active merchants that would accept the version, and why the others would not."""

    active: int
    eligible: int
    #: category -> eligible merchants of it; area -> eligible merchants in it.
    by_category: dict[str, int]
    by_area: dict[str, int]
    #: denial code -> active merchants refused for it (category_denied, area_denied...).
    refused: dict[str, int]


def preview(state: CityState, policy: Policy) -> Preview:
    """Counts over the city's active merchants (a few thousand at most: one pass)."""
    categories: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    active = 0
    for merchant in state.merchants.values():
        if merchant.status != MERCHANT_ACTIVE:
            continue
        active += 1
        facts = MerchantFacts(merchant.category, merchant.area, merchant.annual_revenue)
        code = evaluate(policy, facts)
        if code == Code.OK:
            categories[merchant.category] += 1
            areas[merchant.area] += 1
        else:
            refused[str(code)] += 1
    return Preview(
        active=active,
        eligible=sum(categories.values()),
        by_category=dict(sorted(categories.items())),
        by_area=dict(sorted(areas.items())),
        refused=dict(sorted(refused.items())),
    )


def policy_problem(policy: Policy) -> str | None:
    """Why the ledger would refuse this version (invalid_policy), in the checkers' words."""
    return check_policy(policy) or conditions.compile_error(policy)


#: A sample payment for "try it": Monday noon, 10,000 won at a bakery, new wallet.
SAMPLE: Final = conditions.Context(
    amount=10_000,
    category="bakery",
    area="",
    hour=12,
    weekday=1,
    wallet_age_days=0,
    lot_age_days=0,
    program="",
)


class ConditionCheck(msgspec.Struct, frozen=True):
    """`message` is the checker's (None: the expression is usable); `verdict` what it
    says of the sample payment (None when not asked or not usable)."""

    ok: bool
    message: str | None
    engine: str
    verdict: bool | None = None


def check_condition(expression: str, sample: conditions.Context | None = None) -> ConditionCheck:
    """Type-check `expression` as the ledger would at definition, and judge the sample."""
    draft = _with_condition(expression)
    message = conditions.compile_error(draft)
    if message is not None or sample is None:
        return ConditionCheck(message is None, message, conditions.ENGINE)
    return ConditionCheck(True, None, conditions.ENGINE, conditions.allows(draft, sample))


def _with_condition(expression: str) -> Policy:
    # Only the condition matters to the checker; the rest is an open policy.
    return Policy(
        name="draft",
        allowed_categories=[],
        denied_categories=[],
        areas=[],
        revenue_cap=0,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=0,
        transferable=False,
        refundable=False,
        condition=expression,
        engine=conditions.ENGINE if expression else "",
    )


def sample_context(fields: Mapping[str, object]) -> conditions.Context:
    """A sample context from loose fields (the API's, the page's), the rest SAMPLE's;
    ValueError names a field of the wrong type (integers and strings only)."""
    values = msgspec.structs.asdict(SAMPLE)
    for name, value in fields.items():
        if name not in values:
            raise ValueError(f"{name!r} is not a context variable")
        want = type(values[name])
        if type(value) is not want:
            raise ValueError(f"{name} must be {'a whole number' if want is int else 'text'}")
        values[name] = value
    return conditions.Context(**values)
