"""Budget gauges of a city's programs, read from the ledger state (a few programs: no
scan of wallets or merchants per request)."""

from __future__ import annotations

import msgspec

from localpay.ledger.state import CityState, Program


class Gauge(msgspec.Struct, frozen=True):
    """One program's money, all in won. `budget` is what it may still pay out; `reserved`
    the discounts held for open orders; `bonus` discounts and cashback paid; `sold`
    purchased won minted; `credited` policy money paid; `returned` back by expiry."""

    program: str
    name: str
    version: int
    #: Won officials minted into the budget (the ledger's `minted` also counts won sold).
    funded: int
    budget: int
    reserved: int
    bonus: int
    sold: int
    credited: int
    returned: int
    #: Of all the budget ever had (funded, and returned by expiry), the share still left,
    #: 0..100 (whole percent, down).
    left_percent: int
    for_sale: bool


def gauge(program: Program) -> Gauge:
    policy = program.versions[-1]
    # Purchased won is minted straight into buyers' lots, never into the budget.
    funded = program.minted - program.sold
    had = funded + program.returned
    left = 100 * program.budget // had if had else 0
    return Gauge(
        program=program.id,
        name=policy.name,
        version=len(program.versions),
        funded=funded,
        budget=program.budget,
        reserved=program.reserved,
        bonus=program.bonus,
        sold=program.sold,
        credited=program.credited,
        returned=program.returned,
        left_percent=min(left, 100),
        for_sale=policy.sale is not None,
    )


def gauges(state: CityState) -> list[Gauge]:
    """Every program of the city, by id."""
    return [gauge(state.programs[p]) for p in sorted(state.programs)]
