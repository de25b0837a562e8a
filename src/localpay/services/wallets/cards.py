"""The wallet home's cards: one per program a wallet holds, derived from its lots and the
program's policy. Pure functions over WalletView + Policy + today's Korean date; the page
turns the facts into words (services speak no language).

A card states the amount, the soonest expiry (and whether later lots follow), where the
money can and cannot be used (`Rule`s, in the policy's terms: areas, allowed and denied
categories, the revenue cap, whether it may be gifted) and how much of it expires within
EXPIRING_DAYS. A lot whose last day is already past is counted apart (`expired`): it is
no longer spendable, though it stays in the wallet until the city's next `expire`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from localpay.domain.calendar import KST
from localpay.domain.policy import Policy
from localpay.services.cities.views import LotView, WalletView

#: Money whose last day is at most this many days after today is warned about.
EXPIRING_DAYS: Final = 30

RuleKind = Literal["areas", "only_categories", "not_categories", "revenue_cap", "transferable"]


@dataclass(frozen=True)
class Rule:
    """One fact of where a program's money goes: `values` are labels, `amount` won."""

    kind: RuleKind
    values: tuple[str, ...] = ()
    amount: int = 0
    allowed: bool = True


@dataclass(frozen=True)
class Card:
    program: str
    name: str
    amount: int
    #: The soonest last day ("YYYY-MM-DD") among the spendable lots; "" if none.
    expires: str
    #: More lots expire after `expires`.
    later: bool
    rules: tuple[Rule, ...]
    #: Spendable money whose last day is within EXPIRING_DAYS, and the soonest such day.
    expiring: int
    expiring_by: str
    #: Money past its last day, not spendable any more.
    expired: int


def kst_today(now_ms: int) -> dt.date:
    """Today in Korea (UTC+9 all year)."""
    return dt.datetime.fromtimestamp(now_ms / 1000, KST).date()


def rules(policy: Policy) -> tuple[Rule, ...]:
    """Where the money can and cannot be used, in the order a person reads it."""
    found: list[Rule] = []
    if policy.areas:
        found.append(Rule("areas", tuple(policy.areas)))
    if policy.allowed_categories:
        found.append(Rule("only_categories", tuple(policy.allowed_categories)))
    if policy.denied_categories:
        found.append(Rule("not_categories", tuple(policy.denied_categories), allowed=False))
    if policy.revenue_cap:
        found.append(Rule("revenue_cap", amount=policy.revenue_cap))
    found.append(Rule("transferable", allowed=policy.transferable))
    return tuple(found)


def card(program: str, lots: list[LotView], policy: Policy | None, today: dt.date) -> Card:
    """The card of one program from its lots in the wallet. `policy` None: a program the
    chain no longer describes (never happens on a valid chain) shows its id and no rules."""
    last = today + dt.timedelta(days=EXPIRING_DAYS)
    live = [lot for lot in lots if dt.date.fromisoformat(lot.expires) >= today]
    soon = [lot for lot in live if dt.date.fromisoformat(lot.expires) <= last]
    days = sorted({lot.expires for lot in live})
    return Card(
        program=program,
        name=policy.name if policy is not None else program,
        amount=sum(lot.amount for lot in lots),
        expires=days[0] if days else "",
        later=len(days) > 1,
        rules=rules(policy) if policy is not None else (),
        expiring=sum(lot.amount for lot in soon),
        expiring_by=min((lot.expires for lot in soon), default=""),
        expired=sum(lot.amount for lot in lots) - sum(lot.amount for lot in live),
    )


def cards(wallet: WalletView, policies: Mapping[str, Policy], today: dt.date) -> list[Card]:
    """One card per program the wallet holds money of, largest amount first."""
    by_program: dict[str, list[LotView]] = {}
    for lot in wallet.lots:
        by_program.setdefault(lot.program, []).append(lot)
    made = [card(p, lots, policies.get(p), today) for p, lots in by_program.items()]
    return sorted(made, key=lambda c: (-c.amount, c.program))


def expiring_total(found: list[Card]) -> tuple[int, str]:
    """All money expiring within EXPIRING_DAYS and the soonest of its days ("" if none)."""
    total = sum(c.expiring for c in found)
    day = min((c.expiring_by for c in found if c.expiring), default="")
    return total, day
