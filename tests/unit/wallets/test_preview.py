"""The "usable here" preview agrees with the ledger: for the same state, amount and shop
(or receiver), the preview's verdict is the state machine's answer to the signed command,
and what it says each program pays is what the ledger draws. A preview changes nothing."""

from __future__ import annotations

import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.signatures import public_key_hex
from localpay.services.wallets.preview import Preview, preview_payment, preview_transfer
from localpay.testing.builders import CHECKER, MAKER, RulesCity, policy
from localpay.testing.builders import command_id as cid
from localpay.testing.builders import new_key as key

CITY = "gimpo"


class City(RulesCity):
    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, nacl.signing.SigningKey] = {}

    def official(self, command: c.Command) -> None:
        assert self.apply(command, MAKER, CHECKER) == Code.OK, self.last

    def program(self, name: str, **rules: object) -> None:
        self.official(
            c.DefineProgram(
                id=cid(), city=CITY, program=name, policy=policy(name=name.title(), **rules)
            )
        )
        self.official(c.Mint(id=cid(), city=CITY, program=name, amount=10_000_000, won_ref="t"))

    def wallet(self, name: str, custodial: bool = False) -> None:
        self.keys[name] = key()
        command = c.OpenWallet(
            id=cid(),
            city=CITY,
            wallet=name,
            keys=[public_key_hex(self.keys[name])],
            custodial=custodial,
        )
        assert self.apply(command, self.keys[name]) == Code.OK

    def merchant(
        self, name: str, category: str = "cafe", area: str = "a1", revenue: int = 10**8
    ) -> None:
        self.keys[name] = key()
        self.official(
            c.RegisterMerchant(
                id=cid(),
                city=CITY,
                merchant=name,
                keys=[public_key_hex(self.keys[name])],
                category=category,
                area=area,
                annual_revenue=revenue,
                registration_hash="0" * 64,
            )
        )
        self.official(c.ApproveMerchant(id=cid(), city=CITY, merchant=name))

    def credit(self, program: str, wallet: str, amount: int) -> None:
        self.official(
            c.Credit(id=cid(), city=CITY, program=program, wallet=wallet, amount=amount, origin="t")
        )

    def snapshot(self) -> dict[str, bytes]:
        return {k: self.state.encode_entity(k) for k in self.state.entity_keys()}

    # -- the preview, then the ledger -------------------------------------------------------

    def preview_pay(self, wallet: str, merchant: str, amount: int) -> Preview:
        state = self.state
        return preview_payment(
            state.programs, state.wallets[wallet], state.merchants[merchant], amount, self.now
        )

    def pay(self, wallet: str, merchant: str, amount: int) -> tuple[str, str]:
        self.paid = cid()
        command = c.Pay(
            id=self.paid, city=CITY, wallet=wallet, merchant=merchant, amount=amount, evidence=""
        )
        return self.apply(command, self.keys[wallet]), self.paid

    def preview_gift(self, wallet: str, to: str, amount: int) -> Preview:
        state = self.state
        return preview_transfer(
            state.programs, state.wallets[wallet], state.wallets[to], amount, self.now
        )

    def give(self, wallet: str, to: str, amount: int) -> str:
        command = c.Transfer(id=cid(), city=CITY, wallet=wallet, to=to, amount=amount, evidence="")
        return self.apply(command, self.keys[wallet])


@pytest.fixture
def city() -> City:
    town = City()
    town.program(
        "general",
        denied_categories=["department_store"],
        transferable=True,
        holding_cap=200_000,
        revenue_cap=10**9,
    )
    town.program(
        "youth",
        areas=["a1"],
        denied_categories=["department_store"],
        valid_days=30,
        per_payment_cap=50_000,
        daily_cap=80_000,
    )
    town.program("postpartum", allowed_categories=["pharmacy"], valid_days=60)
    for name in ("w-ann", "w-bob", "w-cy"):
        town.wallet(name)
    town.wallet("w-card", custodial=True)
    town.merchant("m-cafe")
    town.merchant("m-dept", category="department_store")
    town.merchant("m-far", area="a2")
    town.merchant("m-big", revenue=5 * 10**9)
    town.merchant("m-pharm", category="pharmacy")
    town.merchant("m-shut")
    town.official(c.SuspendMerchant(id=cid(), city=CITY, merchant="m-shut", reason="t"))
    town.credit("general", "w-ann", 100_000)
    town.credit("youth", "w-ann", 120_000)
    town.credit("postpartum", "w-ann", 20_000)
    town.credit("general", "w-card", 50_000)
    town.credit("general", "w-bob", 180_000)
    town.credit("general", "w-cy", 50_000)
    return town


#: (shop, amount), in order: each payment changes what the next may do (the caps).
PAYMENTS = [
    ("m-cafe", 10_000),  # youth expires first: it pays
    ("m-cafe", 70_000),  # youth's per-payment cap: 50,000 of youth, the rest general
    ("m-cafe", 40_000),  # youth's daily cap (80,000) binds: general pays the rest
    ("m-dept", 1_000),  # every program denies department stores, or allows pharmacies only
    ("m-far", 90_000),  # youth is for area a1 only; not enough general left
    ("m-far", 20_000),
    ("m-big", 5_000),  # above general's revenue cap; youth has none, but its day is spent
    ("m-pharm", 15_000),  # postpartum money, for pharmacies
    ("m-shut", 1_000),  # suspended
    ("m-cafe", 0),
    ("m-cafe", 10**15),
    ("m-cafe", 1_000_000),
]


def _drawn(city: City, payment: str) -> dict[str, int]:
    taken: dict[str, int] = {}
    for draw in city.state.payments[payment].draws:
        taken[draw.program] = taken.get(draw.program, 0) + draw.amount
    return taken


def test_the_preview_is_the_ledgers_answer_to_each_payment(city: City) -> None:
    answers = []
    for merchant, amount in PAYMENTS:
        before = city.snapshot()
        preview = city.preview_pay("w-ann", merchant, amount)
        assert city.snapshot() == before, "a preview changes nothing"
        code, payment = city.pay("w-ann", merchant, amount)
        answers.append(code)
        assert preview.code == code, (merchant, amount)
        if code == Code.OK:
            assert {line.program: line.take for line in preview.lines if line.take} == _drawn(
                city, payment
            )
            held = {line.program: line.after for line in preview.lines if line.after}
            after: dict[str, int] = {}
            for lot in city.state.wallets["w-ann"].lots:
                after[lot.program] = after.get(lot.program, 0) + lot.amount
            assert held == after
        else:
            assert all(line.take == 0 for line in preview.lines)
    # The scenarios cover the refusals they claim to (else the test proves little).
    assert {
        "ok",
        "category_denied",
        "merchant_not_active",
        "invalid_amount",
        "insufficient_funds",
    } <= set(answers)
    assert answers[:3] == ["ok", "ok", "ok"]


def test_each_program_says_why_it_is_not_usable_here(city: City) -> None:
    far = {line.program: line.usable for line in city.preview_pay("w-ann", "m-far", 1_000).lines}
    assert far == {"general": "ok", "youth": "area_denied", "postpartum": "category_denied"}
    dept = city.preview_pay("w-ann", "m-dept", 1_000)
    assert dept.code == "category_denied"
    assert {line.usable for line in dept.lines} == {"category_denied"}


def test_a_card_wallet_is_told_to_pay_with_its_card(city: City) -> None:
    preview = city.preview_pay("w-card", "m-cafe", 1_000)
    assert preview.code == "evidence_missing"
    assert city.pay("w-card", "m-cafe", 1_000)[0] == "evidence_missing"


@pytest.mark.parametrize(
    ("source", "target", "amount", "expected"),
    [
        ("w-ann", "w-bob", 10_000, "ok"),
        ("w-cy", "w-bob", 25_000, "holding_limit_exceeded"),  # bob would hold > 200,000
        ("w-ann", "w-ann", 1_000, "same_account"),
        ("w-ann", "w-bob", 0, "invalid_amount"),
        ("w-bob", "w-ann", 90_000, "ok"),
        ("w-bob", "w-ann", 110_000, "holding_limit_exceeded"),  # ann would hold > 200,000
        ("w-ann", "w-bob", 10**6, "insufficient_funds"),
        ("w-card", "w-bob", 1_000, "evidence_missing"),
    ],
)
def test_the_gift_preview_is_the_ledgers_answer(
    city: City, source: str, target: str, amount: int, expected: str
) -> None:
    before = city.snapshot()
    preview = city.preview_gift(source, target, amount)
    assert city.snapshot() == before
    assert preview.code == expected
    assert city.give(source, target, amount) == expected
    if expected == "ok":
        moved = {line.program: line.take for line in preview.lines if line.take}
        assert moved == {"general": amount}


def test_money_that_cannot_be_given_is_not_transferable(city: City) -> None:
    """w-ann holds 100,000 general (transferable) and youth and postpartum (not): a gift
    above the general money would need them."""
    preview = city.preview_gift("w-ann", "w-bob", 110_000)
    assert preview.code == "not_transferable"
    assert city.give("w-ann", "w-bob", 110_000) == "not_transferable"
