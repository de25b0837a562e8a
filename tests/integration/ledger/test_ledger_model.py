"""Random valid and invalid commands through a real sequencer and store, invariants after each.

Invariants: supply = minted - burned; no negative balance or lot; money spent only where its
program version allows; a duplicate gets the original receipt and changes nothing; a rejected
command changes nothing; every id is stored at most once; the chain verifies at the end.

"Where its program allows" is judged by `may_spend_at` below, the rules written again
simply from the test's own tables, never by the ledger's `evaluate`: a bug in a rule then
fails the test both ways (money spent where it may not be, or refused where it may).
Junk signed by strangers' keys must never reach the chain; a suspended merchant never
redeems; nobody but the merchant redeems.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import nacl.signing
import pytest
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

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, day_key
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX
from localpay.domain.money import valid_amount
from localpay.domain.policy import default_sale
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import ORDERED, PAID
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.sim.demo import SimClock
from localpay.testing.builders import policy

CITY = "gimpo"
AMOUNTS = st.sampled_from([-5, 0, 1, 700, 5_000, 30_000, 120_000, AMOUNT_MAX + 1])
_ids = itertools.count(1)


def cid() -> str:
    return f"{next(_ids):016x}{os.urandom(8).hex()}"


PROGRAMS = {
    "general": policy(
        "general", denied_categories=["department_store"], transferable=True, holding_cap=400_000
    ),
    "youth": policy("youth", areas=["a1"], valid_days=2, per_payment_cap=30_000, daily_cap=60_000),
    # A sale (issue 12): bought with won at a discount held from its budget at order.
    "sale": policy("sale", denied_categories=["department_store"], sale=default_sale()),
}
MERCHANTS = {
    "m-cafe": ("cafe", "a1", 10**8),
    "m-dept": ("department_store", "a2", 10**8),
    "m-big": ("cafe", "a2", 5 * 10**9),
    "m-small": ("bakery", "a1", 10**7),
}
DENIALS = {Code.CATEGORY_DENIED, Code.AREA_DENIED, Code.REVENUE_CAP_EXCEEDED}


def may_spend_at(program: str, merchant: str) -> Code:
    """The program rules, independently of the ledger: OK or the first reason against."""
    rules = PROGRAMS[program]
    category, area, revenue = MERCHANTS[merchant]
    if category in rules.denied_categories or (
        rules.allowed_categories and category not in rules.allowed_categories
    ):
        return Code.CATEGORY_DENIED
    if rules.areas and area not in rules.areas:
        return Code.AREA_DENIED
    if rules.revenue_cap and revenue > rules.revenue_cap:
        return Code.REVENUE_CAP_EXCEEDED
    return Code.OK


class LedgerModel(RuleBasedStateMachine):
    wallets = Bundle("wallets")
    payments = Bundle("payments")
    envelopes = Bundle("envelopes")
    orders = Bundle("orders")

    def __init__(self, make_url: Callable[[], str], keys_root: Path) -> None:
        super().__init__()
        self.url = make_url()
        self.store = open_store(self.url)
        self.clock = SimClock(1_780_000_000_000)
        keys = KeyStore(keys_root / os.urandom(4).hex())
        self.ledgers = Ledgers(self.store, keys, self.clock, max_clock_skew_ms=None)
        self.keys: dict[str, nacl.signing.SigningKey] = {}
        self.seqs: dict[str, Receipt] = {}
        self.active: dict[str, bool] = {}  # merchant -> approved and not suspended
        self.youth_days: set[tuple[str, int]] = set()  # (wallet, Korean day) youth was spent

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.ledgers.sequencer(CITY).state

    def snapshot(self) -> dict[str, bytes]:
        return {k: self.state.encode_entity(k) for k in self.state.entity_keys()}

    def run(self, envelope: bytes) -> Receipt:
        before = self.snapshot()
        receipt = self.ledgers.execute(CITY, envelope)
        if receipt.duplicate:
            original = self.seqs[receipt.id]
            assert (receipt.code, receipt.seq) == (original.code, original.seq)
            assert self.snapshot() == before, "a duplicate changed the state"
        elif not receipt.ok:
            assert self.snapshot() == before, f"rejected {receipt.code} changed the state"
        if receipt.seq is not None and not receipt.duplicate:
            assert receipt.id not in self.seqs, "an id was applied twice"
            self.seqs[receipt.id] = receipt
        return receipt

    def official(self, command: c.Command) -> Receipt:
        return self.run(self.signer.sign(command))

    # -- set-up ---------------------------------------------------------------------------------

    @initialize(target=wallets)
    def city(self) -> object:
        assert create_city(self.ledgers, CITY, "김포시").ok
        genesis = self.state.genesis
        self.signer = OfficialSigner(self.ledgers.keys, CITY, dict(genesis.approvals))
        for name, rules in PROGRAMS.items():
            assert self.official(
                c.DefineProgram(id=cid(), city=CITY, program=name, policy=rules)
            ).ok
            assert self.official(
                c.Mint(id=cid(), city=CITY, program=name, amount=2_000_000, won_ref="trust")
            ).ok
        for merchant, (category, area, revenue) in MERCHANTS.items():
            key = nacl.signing.SigningKey.generate()
            self.keys[merchant] = key
            assert self.official(
                c.RegisterMerchant(
                    id=cid(),
                    city=CITY,
                    merchant=merchant,
                    keys=[public_key_hex(key)],
                    category=category,
                    area=area,
                    annual_revenue=revenue,
                    registration_hash="0" * 64,
                )
            ).ok
            assert self.official(c.ApproveMerchant(id=cid(), city=CITY, merchant=merchant)).ok
            self.active[merchant] = True
        wallet = self._open("w-first")
        # Start with money in both programs, so spending rules are exercised from step one.
        for program, amount in (("general", 20_000), ("youth", 50_000)):
            assert self.official(
                c.Credit(
                    id=cid(),
                    city=CITY,
                    program=program,
                    wallet=wallet,
                    amount=amount,
                    origin="seed",
                )
            ).ok
        return wallet

    def _open(self, wallet: str, custodial: bool = False) -> str:
        key = nacl.signing.SigningKey.generate()
        self.keys[wallet] = key
        self.run(
            sign_command(
                c.OpenWallet(
                    id=cid(),
                    city=CITY,
                    wallet=wallet,
                    keys=[public_key_hex(key)],
                    custodial=custodial,
                ),
                [key],
            )
        )
        return wallet

    # -- rules ------------------------------------------------------------------------------------

    @rule(target=wallets, custodial=st.booleans())
    def open_wallet(self, custodial: bool) -> str:
        return self._open(f"w-{os.urandom(4).hex()}", custodial)

    @rule(wallet=wallets, program=st.sampled_from(["general", "youth", "nope"]), amount=AMOUNTS)
    def credit(self, wallet: str, program: str, amount: int) -> None:
        self.official(
            c.Credit(
                id=cid(), city=CITY, program=program, wallet=wallet, amount=amount, origin="test"
            )
        )

    @rule(
        target=payments,
        wallet=wallets,
        merchant=st.sampled_from([*MERCHANTS, "m-none"]),
        amount=AMOUNTS,
        forged=st.booleans(),
        evidence=st.sampled_from(["", "card-auth:1"]),
    )
    def pay(self, wallet: str, merchant: str, amount: int, forged: bool, evidence: str) -> str:
        key = nacl.signing.SigningKey.generate() if forged else self.keys[wallet]
        command = c.Pay(
            id=cid(), city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=evidence
        )
        now = self.clock.now_ms
        held = self.state.wallets[wallet]
        lots = [(lot.program, lot.amount, lot.expires_ms) for lot in held.lots]
        custodial = held.custodial
        receipt = self.run(sign_command(command, [key]))
        if not valid_amount(amount):  # refused when decoded: never on the chain
            assert (receipt.code, receipt.seq) == (Code.MALFORMED, None)
            return command.id
        if forged:  # a stranger's key: refused and never on the chain
            assert (receipt.code, receipt.seq) == (Code.UNKNOWN_SIGNER, None)
            return command.id
        if receipt.ok:
            self.check_spent_where_allowed(command.id, merchant)
        elif receipt.code in DENIALS:
            # Some money in the wallet must really be barred here for that very reason.
            reasons = {may_spend_at(p, merchant) for p, _, expires in lots if expires > now}
            assert receipt.code in reasons, f"{receipt.code} at {merchant}, rules say {reasons}"
        if merchant in MERCHANTS and self.active[merchant]:
            if custodial and not evidence:
                assert receipt.code == Code.EVIDENCE_MISSING
            elif self.surely_covered(wallet, merchant, amount, lots, now):
                assert receipt.ok, f"{receipt.code}: allowed money covers {amount} at {merchant}"
        return command.id

    def surely_covered(
        self, wallet: str, merchant: str, amount: int, lots: list[tuple[str, int, int]], now: int
    ) -> bool:
        """Does money the rules allow here certainly cover the amount? (Youth money is
        counted only up to its per-payment cap, on a day it was not spent yet.)"""
        general = youth = 0
        for program, value, expires in lots:
            if expires > now and may_spend_at(program, merchant) is Code.OK:
                if program == "general":
                    general += value
                else:
                    youth += value
        if (wallet, day_key(now)) in self.youth_days:
            youth = 0
        return general + min(youth, PROGRAMS["youth"].per_payment_cap) >= amount

    def check_spent_where_allowed(self, payment: str, merchant: str) -> None:
        record = self.state.payments[payment]
        assert self.active[merchant], f"paid to {merchant}, which is not active"
        for draw in record.draws:
            verdict = may_spend_at(draw.program, merchant)
            assert verdict is Code.OK, f"{draw.program} spent at {merchant}: {verdict}"
            assert draw.expires_ms > record.at_ms, "expired money was spent"
            if draw.program == "youth":
                self.youth_days.add((record.wallet, day_key(record.at_ms)))

    @rule(payment=payments, amount=AMOUNTS, other_merchant=st.booleans())
    def refund(self, payment: str, amount: int, other_merchant: bool) -> None:
        record = self.state.payments.get(payment)
        merchant = record.merchant if record and not other_merchant else "m-cafe"
        if record and other_merchant and record.merchant == "m-cafe":
            merchant = "m-dept"
        receipt = self.run(
            sign_command(
                c.Refund(id=cid(), city=CITY, merchant=merchant, payment=payment, amount=amount),
                [self.keys[merchant]],
            )
        )
        if record is None or merchant != record.merchant:
            assert not receipt.ok

    @rule(
        source=wallets,
        target_wallet=wallets,
        amount=AMOUNTS,
        evidence=st.sampled_from(["", "card-auth:2"]),
    )
    def transfer(self, source: str, target_wallet: str, amount: int, evidence: str) -> None:
        custodial = self.state.wallets[source].custodial
        receipt = self.run(
            sign_command(
                c.Transfer(
                    id=cid(),
                    city=CITY,
                    wallet=source,
                    to=target_wallet,
                    amount=amount,
                    evidence=evidence,
                ),
                [self.keys[source]],
            )
        )
        if not valid_amount(amount):  # refused when decoded: never on the chain
            assert (receipt.code, receipt.seq) == (Code.MALFORMED, None)
        elif source == target_wallet:
            assert receipt.code == Code.SAME_ACCOUNT
        elif custodial and not evidence:  # a card's gift needs the card, as its payment does
            assert receipt.code == Code.EVIDENCE_MISSING

    # -- sales (issue 12) ---------------------------------------------------------------------

    @rule(target=orders, wallet=wallets, amount=AMOUNTS)
    def order_purchase(self, wallet: str, amount: int) -> str:
        command = c.OrderPurchase(id=cid(), city=CITY, wallet=wallet, program="sale", amount=amount)
        budget = self.state.programs["sale"].budget
        receipt = self.run(sign_command(command, [self.keys[wallet]]))
        if not valid_amount(amount):
            assert (receipt.code, receipt.seq) == (Code.MALFORMED, None)
        elif receipt.ok:
            assert self.state.programs["sale"].budget <= budget  # the discount is held
        return command.id

    @rule(order=orders, exact=st.booleans(), again=st.booleans())
    def confirm_purchase(self, order: str, exact: bool, again: bool) -> None:
        """The bank's notice, relayed by the operator; `again`: the same notice twice."""
        purchase = self.state.purchases.get(order)
        wallet = purchase.wallet if purchase else "w-first"
        amount = (purchase.amount if purchase else 1) + (0 if exact else 1)
        ref = f"va-{cid()[:12]}"
        status = purchase.status if purchase else None
        for _ in range(2 if again else 1):
            notice = c.ConfirmPurchase(
                id=cid(), city=CITY, wallet=wallet, order=order, amount=amount, deposit_ref=ref
            )
            before = self.snapshot()
            receipt = self.official(notice)
            if receipt.ok:
                assert status in (ORDERED, "lapsed") and exact
                status = None
            else:
                assert self.snapshot() == before

    @rule(order=orders, how=st.sampled_from(["lapse", "cancel", "refund"]))
    def settle_purchase(self, order: str, how: str) -> None:
        purchase = self.state.purchases.get(order)
        wallet = purchase.wallet if purchase else "w-first"
        status = purchase.status if purchase else None
        if how == "lapse":
            receipt = self.official(c.LapseOrder(id=cid(), city=CITY, wallet=wallet, order=order))
            assert not receipt.ok or status == ORDERED
            return
        command: c.Command = (
            c.CancelPurchase(id=cid(), city=CITY, wallet=wallet, purchase=order)
            if how == "cancel"
            else c.RefundBalance(id=cid(), city=CITY, wallet=wallet, purchase=order)
        )
        receipt = self.run(sign_command(command, [self.keys[wallet]]))
        if receipt.ok:
            assert status == PAID
            assert self.state.payouts[order].amount > 0

    @rule(wallet=wallets)
    def expire(self, wallet: str) -> None:
        self.run(self.signer.sign(c.Expire(id=cid(), city=CITY, wallet=wallet)))

    @rule(
        merchant=st.sampled_from(list(MERCHANTS)),
        amount=AMOUNTS,
        by=st.sampled_from(["merchant", "officials", "operator"]),
    )
    def redeem(self, merchant: str, amount: int, by: str) -> None:
        command = c.Redeem(id=cid(), city=CITY, merchant=merchant, amount=amount, payout_ref="b")
        if by == "merchant":
            envelope = sign_command(command, [self.keys[merchant]])
        elif by == "officials":
            envelope = sign_command(command, self.signer.keys)
        else:
            envelope = sign_command(command, [self.signer.operator])
        balance = self.state.merchants[merchant].balance
        receipt = self.run(envelope)
        if not valid_amount(amount):
            assert receipt.code == Code.MALFORMED
        elif by != "merchant":  # only the merchant itself asks for its won
            assert receipt.code == Code.SIGNER_NOT_AUTHORIZED
        elif not self.active[merchant]:  # a suspended merchant's units stay for refunds
            assert receipt.code == Code.MERCHANT_NOT_ACTIVE
        else:
            assert receipt.ok == (amount <= balance), receipt.code

    @rule(merchant=st.sampled_from(list(MERCHANTS)), suspend=st.booleans())
    def merchant_status(self, merchant: str, suspend: bool) -> None:
        command: c.Command = (
            c.SuspendMerchant(id=cid(), city=CITY, merchant=merchant, reason="check")
            if suspend
            else c.ApproveMerchant(id=cid(), city=CITY, merchant=merchant)
        )
        receipt = self.official(command)
        assert receipt.ok == (self.active[merchant] != (not suspend)), receipt.code
        self.active[merchant] = not suspend

    @rule(
        kind=st.sampled_from(["pay", "mint", "suspend", "refund", "open_taken"]),
        wallet=wallets,
    )
    def stranger_junk(self, kind: str, wallet: str) -> None:
        """Commands a stranger signs with a fresh key: refused, never stored, id unspent."""
        stranger = nacl.signing.SigningKey.generate()
        command: c.Command = {
            "pay": c.Pay(
                id=cid(), city=CITY, wallet=wallet, merchant="m-cafe", amount=1, evidence=""
            ),
            "mint": c.Mint(id=cid(), city=CITY, program="general", amount=1, won_ref="x"),
            "suspend": c.SuspendMerchant(id=cid(), city=CITY, merchant="m-cafe", reason="x"),
            "refund": c.Refund(id=cid(), city=CITY, merchant="m-cafe", payment=cid(), amount=1),
            "open_taken": c.OpenWallet(
                id=cid(),
                city=CITY,
                wallet=wallet,
                keys=[public_key_hex(stranger)],
                custodial=False,
            ),
        }[kind]
        receipt = self.run(sign_command(command, [stranger]))
        assert (receipt.code, receipt.seq) == (Code.UNKNOWN_SIGNER, None)
        assert self.store.find_tx(CITY, command.id) is None

    @rule(days=st.integers(min_value=0, max_value=3))
    def time_passes(self, days: int) -> None:
        self.clock.now_ms += days * DAY_MS + 3_600_000

    @rule(data=st.data())
    def repeat_an_earlier_command(self, data: st.DataObject) -> None:
        if not self.seqs:
            return
        tx_id = data.draw(st.sampled_from(sorted(self.seqs)))
        stored = self.store.find_tx(CITY, tx_id)
        assert stored is not None
        receipt = self.run(stored.envelope)
        assert receipt.duplicate

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def supply_is_minted_minus_burned_and_nothing_is_negative(self) -> None:
        if self.state.genesis is not None:
            assert self.state.check_invariants() == []

    def teardown(self) -> None:
        try:
            self.ledgers.close()
            report = verify_city(self.store, CITY)
            assert report.ok, report.problems
            ids = self.store.sql(
                "SELECT count(*), count(DISTINCT id) FROM txs WHERE city = ?", (CITY,)
            )[0]
            assert ids[0] == ids[1] == len(self.seqs) + 1  # + the genesis
        finally:
            self.store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_random_commands_keep_every_invariant(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    counter = itertools.count()

    def make_url() -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path}/model-{next(counter)}.db"
        fresh: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
        return fresh()

    run_state_machine_as_test(
        lambda: LedgerModel(make_url, tmp_path),
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
