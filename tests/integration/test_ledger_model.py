"""Random valid and invalid commands through a real sequencer and store, invariants after each.

Invariants: supply = minted - burned; no negative balance or lot; money spent only where its
program version allows; a duplicate gets the original receipt and changes nothing; a rejected
command changes nothing; every id is stored at most once; the chain verifies at the end.
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
from localpay.domain.calendar import DAY_MS
from localpay.domain.codes import Code
from localpay.domain.money import MAX_AMOUNT, valid_amount
from localpay.domain.policy import MerchantFacts, Policy, evaluate
from localpay.ledger.sequencer import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.demo import SimClock
from localpay.services.ledgers import Ledgers
from localpay.services.officials import OfficialSigner, create_city
from localpay.services.verify import verify_city

CITY = "gimpo"
AMOUNTS = st.sampled_from([-5, 0, 1, 700, 5_000, 30_000, 120_000, MAX_AMOUNT + 1])
_ids = itertools.count(1)


def cid() -> str:
    return f"{next(_ids):016x}{os.urandom(8).hex()}"


def policy(name: str, **kw: object) -> Policy:
    base: dict[str, object] = dict(
        name=name,
        allowed_categories=[],
        denied_categories=[],
        areas=[],
        revenue_cap=0,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=0,
        transferable=False,
        refundable=False,
    )
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]


PROGRAMS = {
    "general": policy(
        "general", denied_categories=["department_store"], transferable=True, holding_cap=400_000
    ),
    "youth": policy("youth", areas=["a1"], valid_days=2, per_payment_cap=30_000, daily_cap=60_000),
}
MERCHANTS = {
    "m-cafe": ("cafe", "a1", 10**8),
    "m-dept": ("department_store", "a2", 10**8),
    "m-big": ("cafe", "a2", 5 * 10**9),
}


class LedgerModel(RuleBasedStateMachine):
    wallets = Bundle("wallets")
    payments = Bundle("payments")
    envelopes = Bundle("envelopes")

    def __init__(self, make_url: Callable[[], str], keys_root: Path) -> None:
        super().__init__()
        self.url = make_url()
        self.store = open_store(self.url)
        self.clock = SimClock(1_780_000_000_000)
        keys = KeyStore(keys_root / os.urandom(4).hex())
        self.ledgers = Ledgers(self.store, keys, self.clock, max_clock_skew_ms=None)
        self.keys: dict[str, nacl.signing.SigningKey] = {}
        self.seqs: dict[str, Receipt] = {}

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
        wallet = self._open("w-first")
        # Start with money in both programs, so spending rules are exercised from step one.
        for program, amount in (("general", 200_000), ("youth", 50_000)):
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

    def _open(self, wallet: str) -> str:
        key = nacl.signing.SigningKey.generate()
        self.keys[wallet] = key
        self.run(
            sign_command(
                c.OpenWallet(
                    id=cid(), city=CITY, wallet=wallet, keys=[public_key_hex(key)], custodial=False
                ),
                [key],
            )
        )
        return wallet

    # -- rules ------------------------------------------------------------------------------------

    @rule(target=wallets)
    def open_wallet(self) -> str:
        return self._open(f"w-{os.urandom(4).hex()}")

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
    )
    def pay(self, wallet: str, merchant: str, amount: int, forged: bool) -> str:
        key = nacl.signing.SigningKey.generate() if forged else self.keys[wallet]
        command = c.Pay(
            id=cid(), city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=""
        )
        receipt = self.run(sign_command(command, [key]))
        if forged:
            assert receipt.code == Code.SIGNER_NOT_AUTHORIZED
        if receipt.ok:
            self.check_spent_where_allowed(command.id, merchant)
        return command.id

    def check_spent_where_allowed(self, payment: str, merchant: str) -> None:
        record = self.state.payments[payment]
        m = self.state.merchants[merchant]
        facts = MerchantFacts(m.category, m.area, m.annual_revenue)
        assert m.status == "active"
        for draw in record.draws:
            rules = self.state.programs[draw.program].versions[draw.version - 1]
            assert evaluate(rules, facts) is Code.OK, f"{draw.program} spent at {merchant}"
            assert draw.expires_ms > record.at_ms, "expired money was spent"

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

    @rule(source=wallets, target_wallet=wallets, amount=AMOUNTS)
    def transfer(self, source: str, target_wallet: str, amount: int) -> None:
        receipt = self.run(
            sign_command(
                c.Transfer(id=cid(), city=CITY, wallet=source, to=target_wallet, amount=amount),
                [self.keys[source]],
            )
        )
        if source == target_wallet and valid_amount(amount):  # a bad amount is reported first
            assert receipt.code == Code.SAME_ACCOUNT

    @rule(wallet=wallets)
    def expire(self, wallet: str) -> None:
        self.run(self.signer.sign(c.Expire(id=cid(), city=CITY, wallet=wallet)))

    @rule(merchant=st.sampled_from(list(MERCHANTS)), amount=AMOUNTS)
    def redeem(self, merchant: str, amount: int) -> None:
        self.run(
            sign_command(
                c.Redeem(id=cid(), city=CITY, merchant=merchant, amount=amount, payout_ref="bank"),
                [self.keys[merchant]],
            )
        )

    @rule(merchant=st.sampled_from(list(MERCHANTS)), suspend=st.booleans())
    def merchant_status(self, merchant: str, suspend: bool) -> None:
        command: c.Command = (
            c.SuspendMerchant(id=cid(), city=CITY, merchant=merchant, reason="check")
            if suspend
            else c.ApproveMerchant(id=cid(), city=CITY, merchant=merchant)
        )
        self.official(command)

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
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
