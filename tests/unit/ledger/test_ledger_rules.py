"""The ledger's rules, applied to a CityState directly: pure, no store, no threads."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS, end_of_day_ms
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX
from localpay.ledger.signatures import public_key_hex
from localpay.testing.builders import (
    CHECKER,
    MAKER,
    OPERATOR,
    OUTSIDER,
    RulesCity,
    policy,
)
from localpay.testing.builders import command_id as cid
from localpay.testing.builders import new_key as key


class City(RulesCity):
    """A city state with helpers that apply commands as a given set of signers."""

    def __init__(self) -> None:
        super().__init__(approvals={"define_program": 2, "suspend_merchant": 2})
        self.keys: dict[str, nacl.signing.SigningKey] = {}

    def program(self, name: str, **rules: object) -> None:
        assert (
            self.apply(
                c.DefineProgram(id=cid(), city="gimpo", program=name, policy=policy(**rules)),
                MAKER,
                CHECKER,
            )
            == Code.OK
        )
        assert (
            self.apply(
                c.Mint(id=cid(), city="gimpo", program=name, amount=10_000_000, won_ref="t"),
                MAKER,
                CHECKER,
            )
            == Code.OK
        )

    def wallet(self, name: str, custodial: bool = False) -> str:
        self.keys[name] = key()
        assert (
            self.apply(
                c.OpenWallet(
                    id=cid(),
                    city="gimpo",
                    wallet=name,
                    keys=[public_key_hex(self.keys[name])],
                    custodial=custodial,
                ),
                self.keys[name],
            )
            == Code.OK
        )
        return name

    def merchant(
        self, name: str, category: str = "cafe", area: str = "a1", revenue: int = 10**8
    ) -> str:
        self.keys[name] = key()
        assert (
            self.apply(
                c.RegisterMerchant(
                    id=cid(),
                    city="gimpo",
                    merchant=name,
                    keys=[public_key_hex(self.keys[name])],
                    category=category,
                    area=area,
                    annual_revenue=revenue,
                    registration_hash="0" * 64,
                ),
                MAKER,
                CHECKER,
            )
            == Code.OK
        )
        assert (
            self.apply(c.ApproveMerchant(id=cid(), city="gimpo", merchant=name), MAKER, CHECKER)
            == Code.OK
        )
        return name

    def credit(self, program: str, wallet: str, amount: int) -> str:
        code = self.apply(
            c.Credit(
                id=cid(), city="gimpo", program=program, wallet=wallet, amount=amount, origin="t"
            ),
            MAKER,
            CHECKER,
        )
        return code

    def pay(self, wallet: str, merchant: str, amount: int, evidence: str = "") -> str:
        self.last_payment = cid()
        return self.apply(
            c.Pay(
                id=self.last_payment,
                city="gimpo",
                wallet=wallet,
                merchant=merchant,
                amount=amount,
                evidence=evidence,
            ),
            self.keys[wallet],
        )

    def refund(self, merchant: str, payment: str, amount: int) -> str:
        return self.apply(
            c.Refund(id=cid(), city="gimpo", merchant=merchant, payment=payment, amount=amount),
            self.keys[merchant],
        )

    def lots(self, wallet: str) -> list[tuple[str, int]]:
        return [(lot.program, lot.amount) for lot in self.state.wallets[wallet].lots]

    def snapshot(self) -> dict[str, bytes]:
        return {k: self.state.encode_entity(k) for k in self.state.entity_keys()}


@pytest.fixture
def city() -> City:
    town = City()
    town.program("general", denied_categories=["department_store"], transferable=True)
    town.program("youth", areas=["a1"], denied_categories=["department_store"], valid_days=30)
    town.wallet("w-ann")
    town.merchant("m-cafe")
    town.merchant("m-dept", category="department_store")
    town.merchant("m-far", area="a2")
    return town


def test_a_payment_draws_the_soonest_expiring_eligible_lots_first(city: City) -> None:
    city.credit("general", "w-ann", 20_000)
    city.credit("youth", "w-ann", 15_000)  # expires in 30 days: sooner than general (5 years)
    assert city.pay("w-ann", "m-cafe", 20_000) == Code.OK
    assert city.lots("w-ann") == [("general", 15_000)]


def test_money_not_allowed_at_a_merchant_is_skipped_not_spent(city: City) -> None:
    city.credit("youth", "w-ann", 50_000)  # youth money is for shops in area a1 only
    city.credit("general", "w-ann", 10_000)
    assert city.pay("w-ann", "m-far", 8_000) == Code.OK
    assert sorted(city.lots("w-ann")) == [("general", 2_000), ("youth", 50_000)]


def test_the_denial_is_reported_when_only_ineligible_money_could_pay(city: City) -> None:
    city.credit("youth", "w-ann", 50_000)
    assert city.pay("w-ann", "m-far", 8_000) == Code.AREA_DENIED
    assert city.pay("w-ann", "m-dept", 8_000) == Code.CATEGORY_DENIED


def test_too_little_money_overall_is_insufficient_funds(city: City) -> None:
    city.credit("general", "w-ann", 5_000)
    assert city.pay("w-ann", "m-cafe", 8_000) == Code.INSUFFICIENT_FUNDS


def test_expired_money_cannot_be_spent_and_expire_returns_it_to_its_budget(city: City) -> None:
    city.credit("youth", "w-ann", 30_000)
    budget = city.state.programs["youth"].budget
    city.now += 31 * DAY_MS
    assert city.pay("w-ann", "m-cafe", 1_000) == Code.PROGRAM_EXPIRED
    assert city.apply(c.Expire(id=cid(), city="gimpo", wallet="w-ann"), OPERATOR) == Code.OK
    assert city.state.programs["youth"].budget == budget + 30_000
    assert (
        city.apply(c.Expire(id=cid(), city="gimpo", wallet="w-ann"), OPERATOR)
        == Code.NOTHING_TO_EXPIRE
    )


def test_caps_bind_per_payment_per_day_and_reset_the_next_korean_day(city: City) -> None:
    city.program("capped", per_payment_cap=30_000, daily_cap=50_000, monthly_cap=70_000)
    city.credit("capped", "w-ann", 200_000)
    assert city.pay("w-ann", "m-cafe", 31_000) == Code.PER_PAYMENT_LIMIT_EXCEEDED
    assert city.pay("w-ann", "m-cafe", 30_000) == Code.OK
    assert city.pay("w-ann", "m-cafe", 25_000) == Code.DAILY_LIMIT_EXCEEDED
    city.now = end_of_day_ms("2026-05-29")  # 00:00 KST the next day
    assert city.pay("w-ann", "m-cafe", 25_000) == Code.OK
    assert city.pay("w-ann", "m-cafe", 20_000) == Code.MONTHLY_LIMIT_EXCEEDED
    city.now = end_of_day_ms("2026-05-31")  # June
    assert city.pay("w-ann", "m-cafe", 20_000) == Code.OK


def test_a_refund_restores_the_exact_lots_drawn_even_a_consumed_one(city: City) -> None:
    city.credit("youth", "w-ann", 10_000)
    city.credit("general", "w-ann", 10_000)
    assert city.pay("w-ann", "m-cafe", 15_000) == Code.OK
    payment = city.last_payment
    assert city.lots("w-ann") == [("general", 5_000)]  # youth lot consumed and removed
    assert city.refund("m-cafe", payment, 6_000) == Code.OK  # last drawn first: general
    assert sorted(city.lots("w-ann")) == [("general", 10_000), ("youth", 1_000)]
    assert city.refund("m-cafe", payment, 9_000) == Code.OK
    assert sorted(city.lots("w-ann")) == [("general", 10_000), ("youth", 10_000)]
    assert city.refund("m-cafe", payment, 1) == Code.REFUND_EXCEEDS_PAYMENT


def test_only_the_paid_merchant_can_refund_and_only_from_its_balance(city: City) -> None:
    city.credit("general", "w-ann", 10_000)
    city.pay("w-ann", "m-cafe", 10_000)
    payment = city.last_payment
    assert city.refund("m-dept", payment, 1_000) == Code.PAYMENT_NOT_FOUND
    assert (
        city.apply(
            c.Redeem(id=cid(), city="gimpo", merchant="m-cafe", amount=10_000, payout_ref="b"),
            city.keys["m-cafe"],
        )
        == Code.OK
    )
    assert city.refund("m-cafe", payment, 1_000) == Code.INSUFFICIENT_FUNDS


def test_transfers_move_only_transferable_money_keeping_its_expiry(city: City) -> None:
    city.wallet("w-bob")
    city.credit("youth", "w-ann", 10_000)
    city.credit("general", "w-ann", 5_000)
    send = c.Transfer(id=cid(), city="gimpo", wallet="w-ann", to="w-bob", amount=8_000, evidence="")
    assert city.apply(send, city.keys["w-ann"]) == Code.NOT_TRANSFERABLE
    ok = c.Transfer(id=cid(), city="gimpo", wallet="w-ann", to="w-bob", amount=5_000, evidence="")
    assert city.apply(ok, city.keys["w-ann"]) == Code.OK
    given = city.state.wallets["w-bob"].lots[0]
    assert (given.program, given.amount, given.origin) == ("general", 5_000, "gift")


def test_the_holding_cap_limits_credits_and_gifts(city: City) -> None:
    city.program("held", holding_cap=100_000, transferable=True)
    assert city.credit("held", "w-ann", 100_000) == Code.OK
    assert city.credit("held", "w-ann", 1) == Code.HOLDING_LIMIT_EXCEEDED


def test_a_card_wallet_payment_needs_its_authorization_evidence(city: City) -> None:
    city.wallet("w-card", custodial=True)
    city.credit("general", "w-card", 10_000)
    assert city.pay("w-card", "m-cafe", 1_000) == Code.EVIDENCE_MISSING
    assert city.pay("w-card", "m-cafe", 1_000, evidence="auth:123456") == Code.OK


def test_maker_checker_needs_two_distinct_officials(city: City) -> None:
    suspend = c.SuspendMerchant(id=cid(), city="gimpo", merchant="m-cafe", reason="r")
    assert city.apply(suspend, MAKER) == Code.APPROVALS_MISSING
    assert city.apply(suspend, OUTSIDER) == Code.UNKNOWN_SIGNER  # not even recorded
    assert city.apply(suspend, MAKER, CHECKER) == Code.OK
    assert city.pay("w-ann", "m-cafe", 1) == Code.MERCHANT_NOT_ACTIVE


def test_a_wallet_is_opened_only_by_a_holder_of_its_key(city: City) -> None:
    stranger = key()
    opening = c.OpenWallet(
        id=cid(), city="gimpo", wallet="w-new", keys=[public_key_hex(key())], custodial=False
    )
    assert city.apply(opening, stranger) == Code.UNKNOWN_SIGNER  # refused, never recorded
    assert city.apply(opening, MAKER) == Code.SIGNER_NOT_AUTHORIZED  # a known key: recorded


def test_account_ids_are_unique_across_wallets_and_merchants(city: City) -> None:
    k = city.keys["m-cafe"]
    clash = c.OpenWallet(
        id=cid(), city="gimpo", wallet="m-cafe", keys=[public_key_hex(k)], custodial=False
    )
    assert city.apply(clash, k) == Code.ACCOUNT_EXISTS


@pytest.mark.parametrize("amount", [0, -1, AMOUNT_MAX + 1, True])
def test_bad_amounts_are_invalid_and_change_nothing(city: City, amount: int) -> None:
    city.credit("general", "w-ann", 10_000)
    before = city.snapshot()
    assert city.pay("w-ann", "m-cafe", amount) == Code.INVALID_AMOUNT
    assert city.snapshot() == before


def test_a_new_program_version_does_not_change_money_already_issued(city: City) -> None:
    city.credit("general", "w-ann", 10_000)
    stricter = c.DefineProgram(
        id=cid(), city="gimpo", program="general", policy=policy(denied_categories=["cafe"])
    )
    assert city.apply(stricter, MAKER, CHECKER) == Code.OK
    assert city.pay("w-ann", "m-cafe", 5_000) == Code.OK  # the old lot keeps version 1
    city.credit("general", "w-ann", 10_000)  # a new lot under version 2
    assert city.pay("w-ann", "m-cafe", 6_000) == Code.CATEGORY_DENIED


def test_supply_equals_minted_minus_burned_through_a_day_of_business(city: City) -> None:
    city.credit("general", "w-ann", 50_000)
    city.pay("w-ann", "m-cafe", 20_000)
    city.refund("m-cafe", city.last_payment, 5_000)
    city.apply(
        c.Redeem(id=cid(), city="gimpo", merchant="m-cafe", amount=15_000, payout_ref="b"),
        city.keys["m-cafe"],
    )
    totals = city.state.totals
    assert totals.burned == 15_000
    assert city.state.supply() == totals.minted - totals.burned
    assert city.state.check_invariants() == []


def test_officials_can_be_appointed_and_revoked_but_never_below_the_quorum(city: City) -> None:
    newcomer = key()
    appoint = c.AppointOfficial(
        id=cid(), city="gimpo", key=public_key_hex(newcomer), role="checker", active=True
    )
    assert city.apply(appoint, MAKER) == Code.APPROVALS_MISSING  # two by default
    assert city.apply(appoint, MAKER, CHECKER) == Code.OK
    revoke = c.AppointOfficial(
        id=cid(), city="gimpo", key=public_key_hex(MAKER), role="maker", active=False
    )
    assert city.apply(revoke, CHECKER, newcomer) == Code.OK
    last = c.AppointOfficial(
        id=cid(), city="gimpo", key=public_key_hex(CHECKER), role="checker", active=False
    )
    assert city.apply(last, newcomer, CHECKER) == Code.INVALID_POLICY  # two are needed
    # The revoked key is no longer known: its attempts are refused and not even recorded.
    assert (
        city.apply(
            c.Mint(id=cid(), city="gimpo", program="general", amount=1, won_ref="t"),
            MAKER,
            CHECKER,
        )
        == Code.APPROVALS_MISSING
    )
    assert (
        city.apply(c.Mint(id=cid(), city="gimpo", program="general", amount=1, won_ref="t"), MAKER)
        == Code.UNKNOWN_SIGNER
    )


def test_witnesses_and_their_quorum_are_recorded(city: City) -> None:
    witnesses = [c.Witness(name=f"w{i}", key=public_key_hex(key())) for i in range(3)]
    bad = c.SetWitnesses(id=cid(), city="gimpo", witnesses=witnesses, quorum=4)
    assert city.apply(bad, MAKER, CHECKER) == Code.INVALID_POLICY
    good = c.SetWitnesses(id=cid(), city="gimpo", witnesses=witnesses, quorum=2)
    assert city.apply(good, MAKER, CHECKER) == Code.OK
    assert city.state.authorities.quorum == 2
    assert msgspec.json.decode(city.state.encode_entity("o"))["quorum"] == 2
