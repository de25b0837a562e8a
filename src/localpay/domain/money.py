"""Money is integer won. Limits are named and checked at the edge."""

from __future__ import annotations

from typing import Annotated

import msgspec

from localpay.domain.limits import AMOUNT_MAX, REVENUE_MAX, VALID_DAYS_MAX

#: An amount as commands carry it: bounded when decoded, so 2**64 or 0 never reach a rule.
Amount = Annotated[int, msgspec.Meta(ge=1, le=AMOUNT_MAX)]
#: A limit in a policy: 0 (no limit) up to the amount limit.
Cap = Annotated[int, msgspec.Meta(ge=0, le=AMOUNT_MAX)]
Revenue = Annotated[int, msgspec.Meta(ge=0, le=REVENUE_MAX)]
#: A validity in days, 0 meaning "none" where a policy allows it.
ValidDays = Annotated[int, msgspec.Meta(ge=0, le=VALID_DAYS_MAX)]


def valid_amount(amount: int) -> bool:
    # bool is an int subclass in Python; True is not 1 won.
    return type(amount) is int and 0 < amount <= AMOUNT_MAX
