"""Money is integer won. Limits are named and checked at the edge."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

#: Largest amount one command may move (10 billion won: above any city's yearly issuance
#: per command, far below 2**53 so JavaScript clients keep exact integers).
MAX_AMOUNT: Final = 10_000_000_000
#: Largest annual revenue a merchant may declare (1,000 trillion won, more than any firm
#: takes in): still below 2**53, so every reader keeps the exact number.
MAX_REVENUE: Final = 10**15
#: Longest validity, in days, a program or a city may give money (100 years). It keeps
#: every expiry a real calendar date: 10,000,000 days would be the year 29405.
MAX_VALID_DAYS: Final = 36_600

#: An amount as commands carry it: bounded when decoded, so 2**64 or 0 never reach a rule.
Amount = Annotated[int, msgspec.Meta(ge=1, le=MAX_AMOUNT)]
#: A limit in a policy: 0 (no limit) up to the amount limit.
Cap = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
Revenue = Annotated[int, msgspec.Meta(ge=0, le=MAX_REVENUE)]
#: A validity in days, 0 meaning "none" where a policy allows it.
ValidDays = Annotated[int, msgspec.Meta(ge=0, le=MAX_VALID_DAYS)]


def valid_amount(amount: int) -> bool:
    # bool is an int subclass in Python; True is not 1 won.
    return type(amount) is int and 0 < amount <= MAX_AMOUNT
