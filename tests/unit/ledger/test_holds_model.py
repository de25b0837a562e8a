"""Holds, captures, releases, reversals, voids and one-time codes under random sequences:
a Hypothesis state machine over machine_city's City (whose `run` checks after every step
that a rejection changed nothing, that every change was reported, and the state's
invariants, supply among them).

On top of that, after every step, no money is ever "failed but deducted" nor paid twice:
- each wallet's money is in its lots, in its open holds, or in its payments to merchants
  net of refunds, and adds up to what it was credited;
- each merchant holds exactly its payments net of refunds;
- a hold never captures more than it held, and an intent is held at most once;
- a voided id is never a hold.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from localpay.domain import commands as c
from localpay.domain.limits import CODE_MS_MAX, HOLD_MS_MAX
from localpay.ledger.state import HELD
from localpay.testing.machine_city import CITY, OPERATOR, City

WALLETS = ("alice", "bob")
MERCHANTS = ("bakery", "garage")
AMOUNTS = st.sampled_from([1, 999, 5_000, 20_000, 45_000, 120_000])
CREDIT = 100_000


class HoldsModel(RuleBasedStateMachine):
    holds = Bundle("holds")
    codes = Bundle("codes")

    @initialize()
    def city(self) -> None:
        self.town = City()
        self.town.program("general", budget=10_000_000, daily_cap=150_000)
        self.town.program("youth", budget=10_000_000, allowed_categories=["bakery"])
        for wallet in WALLETS:
            self.town.wallet(wallet)
            self.town.credit(wallet, "general", CREDIT)
            self.town.credit(wallet, "youth", CREDIT)
            self.town.card(wallet, _card(wallet))
        for merchant in MERCHANTS:
            self.town.merchant(merchant, category=merchant)
        self.rrn = 0
        self.voided: set[str] = set()

    def card_key(self, wallet: str):  # type: ignore[no-untyped-def]
        return self.town.keys[f"card:{_card(wallet)}"]

    @rule(
        target=holds,
        wallet=st.sampled_from(WALLETS),
        merchant=st.sampled_from(MERCHANTS),
        amount=AMOUNTS,
        how=st.sampled_from(["card", "purchase", "checkout"]),
    )
    def hold(self, wallet: str, merchant: str, amount: int, how: str) -> c.Hold:
        self.rrn += 1
        if how == "checkout":
            command = self.town.checkout_hold_cmd(wallet, merchant, amount, f"i-{self.rrn % 7}")
            self.town.run(command, self.town.keys[wallet])
        else:
            command = self.town.card_hold_cmd(
                wallet, _card(wallet), merchant, amount, f"{self.rrn:012d}", how == "purchase"
            )
            self.town.run(command, self.card_key(wallet))
        return command

    @rule(hold=holds, share=st.sampled_from([1, 50, 100, 101]), by_card=st.booleans())
    def capture(self, hold: c.Hold, share: int, by_card: bool) -> None:
        signer = self.card_key(hold.wallet) if by_card else self.town.keys[hold.merchant]
        amount = max(hold.amount * share // 100, 1)
        self.town.run(self.town.capture_cmd(hold, amount), signer)

    @rule(hold=holds, who=st.sampled_from(["merchant", "card", "operator"]))
    def release(self, hold: c.Hold, who: str) -> None:
        signer = {
            "merchant": self.town.keys[hold.merchant],
            "card": self.card_key(hold.wallet),
            "operator": OPERATOR,
        }[who]
        unseen = hold.id not in self.town.state.holds
        result = self.town.run(self.town.release_cmd(hold), signer)
        if result.ok and unseen:
            self.voided.add(hold.id)

    @rule(hold=holds, amount=AMOUNTS)
    def refund(self, hold: c.Hold, amount: int) -> None:
        self.town.refund(hold.merchant, hold.id, amount)

    @rule(target=codes, wallet=st.sampled_from(WALLETS), cap=AMOUNTS)
    def present(self, wallet: str, cap: int) -> tuple[str, str]:
        self.rrn += 1
        code = f"{self.rrn:064x}"
        command = c.PresentCode(id=self.town.new_id(), city=CITY, wallet=wallet, code=code, cap=cap)
        self.town.run(command, self.town.keys[wallet])
        return wallet, code

    @rule(code=codes, merchant=st.sampled_from(MERCHANTS), amount=AMOUNTS)
    def claim(self, code: tuple[str, str], merchant: str, amount: int) -> None:
        wallet, digest = code
        command = c.ClaimCode(
            id=self.town.new_id(),
            city=CITY,
            code=digest,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
        )
        self.town.run(command, self.town.keys[merchant])

    @rule(step=st.sampled_from([CODE_MS_MAX, HOLD_MS_MAX // 2, HOLD_MS_MAX]))
    def time_passes(self, step: int) -> None:
        self.town.now += step

    @invariant()
    def every_won_of_a_wallet_is_in_its_lots_its_holds_or_its_payments(self) -> None:
        state = self.town.state
        for wallet in WALLETS:
            held = sum(
                h.amount for h in state.holds.values() if h.wallet == wallet and h.status == HELD
            )
            paid = sum(p.amount - p.refunded for p in state.payments.values() if p.wallet == wallet)
            assert state.wallets[wallet].balance() + held + paid == 2 * CREDIT

    @invariant()
    def a_merchant_holds_exactly_its_payments_net_of_refunds(self) -> None:
        state = self.town.state
        for merchant in MERCHANTS:
            paid = sum(
                p.amount - p.refunded for p in state.payments.values() if p.merchant == merchant
            )
            assert state.merchants[merchant].balance == paid

    @invariant()
    def holds_capture_at_most_their_amount_and_intents_are_held_once(self) -> None:
        holds = list(self.town.state.holds.values())
        assert all(h.captured <= h.amount for h in holds)
        intents = [h.intent for h in holds if h.intent]
        assert len(intents) == len(set(intents))

    @invariant()
    def a_voided_id_is_never_a_hold(self) -> None:
        assert not self.voided & self.town.state.holds.keys()


def _card(wallet: str) -> str:
    return wallet.encode().hex().ljust(64, "0")


def test_random_hold_sequences_never_lose_or_double_count_money() -> None:
    run_state_machine_as_test(
        HoldsModel,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
