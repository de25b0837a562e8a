"""Eligibility per program: may a program's money be spent at a merchant?

Derived, never stored: the program's current version (the last on the chain) judged by
`domain.policy.evaluate` on the merchant's category, area and declared revenue, the same
function the ledger runs at payment. A CEL condition (ledger/conditions.py) may still
refuse a payment by amount or hour; that depends on the payment, so it is not shown here.
"""

from __future__ import annotations

import msgspec

from localpay.domain.codes import Code
from localpay.domain.policy import MerchantFacts, evaluate
from localpay.ledger.state import CityState


class Eligibility(msgspec.Struct, frozen=True):
    program: str
    #: The program's public name (the chain's policy name).
    name: str
    eligible: bool
    #: "ok", or the ledger's denial code: category_denied, area_denied, revenue_cap_exceeded.
    code: str
    has_condition: bool


def eligibility(state: CityState, category: str, area: str, revenue: int) -> list[Eligibility]:
    facts = MerchantFacts(category=category, area=area, annual_revenue=revenue)
    found = []
    for program_id in sorted(state.programs):
        policy = state.programs[program_id].versions[-1]
        code = evaluate(policy, facts)
        found.append(
            Eligibility(program_id, policy.name, code is Code.OK, str(code), bool(policy.condition))
        )
    return found
