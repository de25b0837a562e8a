"""A Hypothesis property over any sequence of sales, payments, payouts, bank bookings and
returns: won in the trust account = units outstanding + units in transit.

The trust account is modelled as the bank sees it: won come in with each mint (a
budget transfer, a citizen's purchase) and leave only when the bank books a payout
(settle_payout). Units outstanding are every balance on the chain but the payouts in
transit; in transit, the pending payouts."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from nacl.signing import SigningKey

from localpay.domain.codes import Code
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING
from localpay.testing.machine_city import CHECKER, MAKER, OPERATOR, City

MERCHANTS = ("m-001", "m-002")
WALLETS = ("w-001", "w-002")


class Settlement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.city = City()
        self.city.program("youth", budget=0)
        self.trust = 0
        for wallet in WALLETS:
            self.city.wallet(wallet)
        for merchant in MERCHANTS:
            self.city.merchant(merchant)
            self.city.payout_account(merchant)

    @rule(amount=st.integers(1, 200_000))
    def budget_arrives(self, amount: int) -> None:
        assert self.city.official(self.city.mint("youth", amount)) == Code.OK
        self.trust += amount

    @rule(wallet=st.sampled_from(WALLETS), amount=st.integers(1, 100_000))
    def policy_money(self, wallet: str, amount: int) -> None:
        self.city.run(self.city.credit_cmd(wallet, "youth", amount), *self._officials())

    @rule(
        wallet=st.sampled_from(WALLETS),
        merchant=st.sampled_from(MERCHANTS),
        amount=st.integers(1, 50_000),
    )
    def pay(self, wallet: str, merchant: str, amount: int) -> None:
        self.city.pay(wallet, merchant, amount)

    @rule(merchant=st.sampled_from(MERCHANTS), part=st.integers(1, 100), by_operator=st.booleans())
    def payout(self, merchant: str, part: int, by_operator: bool) -> None:
        balance = self.city.state.merchants[merchant].balance
        amount = max(1, balance * part // 100)
        key = OPERATOR if by_operator else self.city.keys[merchant]
        code = self.city.code(self.city.payout_cmd(merchant, amount), key)
        assert code == (Code.OK if balance >= amount else Code.INSUFFICIENT_FUNDS)

    def _pending(self) -> list[str]:
        return sorted(k for k, q in self.city.state.payouts.items() if q.status == PAYOUT_PENDING)

    @precondition(lambda self: self._pending())
    @rule(pick=st.integers(0, 1_000), again=st.booleans())
    def bank_books(self, pick: int, again: bool) -> None:
        ident = self._pending()[pick % len(self._pending())]
        owed = self.city.state.payouts[ident]
        settle = self.city.settle_cmd(ident, owed.merchant or owed.wallet)
        assert self.city.code(settle, OPERATOR) == Code.OK
        self.trust -= owed.amount
        if again:  # the same statement twice: the repeat changes nothing
            repeat = self.city.settle_cmd(ident, owed.merchant or owed.wallet)
            assert self.city.code(repeat, OPERATOR) == Code.PAYOUT_CLOSED

    @precondition(lambda self: self._pending())
    @rule(pick=st.integers(0, 1_000))
    def bank_returns(self, pick: int) -> None:
        ident = self._pending()[pick % len(self._pending())]
        owed = self.city.state.payouts[ident]
        ret = self.city.return_cmd(ident, owed.merchant or owed.wallet, "AC04")
        assert self.city.code(ret, OPERATOR) == Code.OK  # no won moved at the bank

    @precondition(lambda self: self._paid())
    @rule(pick=st.integers(0, 1_000))
    def bank_sends_back_a_booked_payout(self, pick: int) -> None:
        ident = self._paid()[pick % len(self._paid())]
        owed = self.city.state.payouts[ident]
        back = self.city.return_cmd(ident, owed.merchant or owed.wallet, "AC04", bank_ref="R-1")
        assert self.city.code(back, OPERATOR) == Code.OK
        self.trust += owed.amount  # the won are in the trust account again

    def _paid(self) -> list[str]:
        return sorted(k for k, q in self.city.state.payouts.items() if q.status == PAYOUT_PAID)

    def _officials(self) -> tuple[SigningKey, ...]:
        return (MAKER, CHECKER)

    @invariant()
    def won_in_trust_is_units_outstanding_plus_in_transit(self) -> None:
        state = self.city.state
        in_transit = sum(q.amount for q in state.payouts.values() if q.status == PAYOUT_PENDING)
        outstanding = state.supply() - in_transit
        assert self.trust == outstanding + in_transit
        assert in_transit >= 0 and outstanding >= 0


Settlement.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_settlement_model = Settlement.TestCase
