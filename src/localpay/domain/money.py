"""Money is integer won. Limits are named and checked at the edge."""

from __future__ import annotations

#: Largest amount one command may move (10 billion won: above any city's yearly issuance
#: per command, far below 2**53 so JavaScript clients keep exact integers).
MAX_AMOUNT = 10_000_000_000


def valid_amount(amount: int) -> bool:
    # bool is an int subclass in Python; True is not 1 won.
    return type(amount) is int and 0 < amount <= MAX_AMOUNT
