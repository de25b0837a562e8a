"""Revenue tiers of a declared annual revenue, and the 30억 rule.

The tiers are the sizes small-business support uses in Korea (영세 ≤ 3억, 중소 3–10억,
10–30억) plus the businesses above 30억 (3,000,000,000 won), which the Ministry's
guidelines exclude from general-purpose local currency. The chain keeps the declared
revenue itself (programs compare it with their `revenue_cap`); the tier is for people.
"""

from __future__ import annotations

from typing import Final

#: (label, upper bound in won, inclusive; None: no bound)
TIERS: Final = (
    ("up_to_300m", 300_000_000),
    ("up_to_1b", 1_000_000_000),
    ("up_to_3b", 3_000_000_000),
    ("over_3b", None),
)
#: Above this, a business is excluded from general use (sim/gimpo.REVENUE_CAP).
GENERAL_USE_CAP: Final = 3_000_000_000


def tier_of(revenue: int) -> str:
    for label, bound in TIERS:
        if bound is None or revenue <= bound:
            return label
    raise AssertionError("the last tier has no bound")
