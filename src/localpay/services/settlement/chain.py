"""What settlement reads of a city's chain: merchants' balances and payout accounts, the
payouts pending, the supply, and the won the chain says came in (mints and deposits,
by their bank reference), followed through the log like the jobs' deadlines."""

from __future__ import annotations

from dataclasses import dataclass

from localpay.domain import commands as c
from localpay.ledger.blocks import decode_header
from localpay.ledger.ports import Store
from localpay.ledger.state import MERCHANT_ACTIVE, PAYOUT_PENDING, CityState, Payout

#: The transactions that bring won in, and the field naming the bank's reference.
_MONEY_IN = {"mint": "won_ref", "confirm_purchase": "deposit_ref"}


@dataclass(frozen=True)
class Due:
    """A merchant balance the daily batch pays out."""

    merchant: str
    amount: int
    account: str  # the digest registered on the chain


def due_balances(state: CityState) -> list[Due]:
    """Every active merchant with a balance and a registered payout account."""
    return [
        Due(m.id, m.balance, m.payout_account)
        for m in sorted(state.merchants.values(), key=lambda m: m.id)
        if m.balance > 0 and m.status == MERCHANT_ACTIVE and m.payout_account
    ]


def pending(state: CityState) -> list[Payout]:
    """Payouts in transit or owed, oldest first."""
    owed = [q for q in state.payouts.values() if q.status == PAYOUT_PENDING]
    return sorted(owed, key=lambda q: (q.at_ms, q.id))


def in_transit(state: CityState) -> int:
    return sum(q.amount for q in state.payouts.values() if q.status == PAYOUT_PENDING)


def supply(state: CityState) -> int:
    return state.totals.minted - state.totals.burned


class MoneyIn:
    """Won the chain counts as arrived in the trust account: bank reference -> (won, when
    its block was made). Loaded from the log once, then followed from where it left off.
    A deposit reference appears once: the ledger refuses one used twice."""

    def __init__(self, store: Store, city: str) -> None:
        self.store = store
        self.city = city
        self.refs: dict[str, tuple[int, int]] = {}
        self._cursor = 0

    def follow(self) -> dict[str, tuple[int, int]]:
        times: dict[int, int] = {}
        for tx in self.store.txs(self.city, self._cursor):
            self._cursor = tx.seq + 1
            field = _MONEY_IN.get(tx.kind)
            if field is None or not tx.decoded_result().ok:
                continue
            _, command = c.decode_envelope(tx.envelope)
            if tx.height not in times:
                times[tx.height] = self._block_time(tx.height)
            amount = int(command.amount)  # type: ignore[union-attr]
            self.refs[str(getattr(command, field))] = (amount, times[tx.height])
        return self.refs

    def _block_time(self, height: int) -> int:
        for block in self.store.blocks(self.city, height, height + 1):
            return decode_header(block.header_bytes).time_ms
        return 0
