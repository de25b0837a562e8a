"""Proof of reserves: the units on the chain against the won in the trust account.

At a checkpoint (a log size and root the witnesses cosign), the supply is read from the
chain: units outstanding plus units in transit (pending payouts, whose won have not
left yet). The won are the trust account's closing balance on the last reconciled
statement, plus what the chain minted on the bank's notices since (deposits and budget
transfers that no statement has shown yet). Backed when the won cover the supply; the
difference is the shortfall. docs/reserves.md gives the argument and its limits."""

from __future__ import annotations

from localpay.domain.business_days import batch_cutoff_ms
from localpay.ledger.state import CityState
from localpay.services.settlement import chain
from localpay.services.settlement.ports import ReserveProof, StatementRecord


def prove(
    state: CityState,
    size: int,
    root: str,
    at_ms: int,
    last: StatementRecord | None,
    money_in: dict[str, tuple[int, int]],
    shown: set[str],
) -> ReserveProof:
    supply = chain.supply(state)
    # Won minted on a bank notice count as in trust until the first statement that should
    # show them: one for a day after the notice. Minted before the last statement's day
    # and on no statement, they are missing: the proof does not count them.
    if last is None:
        # No statement yet: nothing but the chain's own word, which proves nothing. The
        # proof says so (statement_day None; the pages read it as "not checked yet").
        unbooked = supply
    else:
        since = batch_cutoff_ms(last.day, 0)
        unbooked = sum(
            amount
            for ref, (amount, at_ms) in money_in.items()
            if ref not in shown and at_ms >= since
        )
    trust = last.closing if last is not None else 0
    return ReserveProof(
        city=state.city,
        size=size,
        root=root,
        at_ms=at_ms,
        supply=supply,
        in_transit=chain.in_transit(state),
        trust=trust,
        statement_day=last.day if last is not None else None,
        unbooked=unbooked,
        shortfall=max(0, supply - trust - unbooked),
    )
