"""The settlement commands' rules, each in its precedence (docs/encoding.md), and what
they do to balances, the supply and the totals (ledger/settlement.py)."""

from __future__ import annotations

import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING, PAYOUT_RETURNED, Payout
from localpay.testing.machine_city import OPERATOR, OUTSIDER, City

ACCOUNT = "ac" * 32


@pytest.fixture
def city() -> City:
    city = City()
    city.program("youth", budget=1_000_000)
    city.wallet("w-001")
    city.credit("w-001", "youth", 100_000)
    city.merchant("m-001")
    city.paid("w-001", "m-001", 30_000)
    return city


def test_a_payout_needs_the_registered_account(city: City) -> None:
    assert city.code(city.payout_cmd("m-001", 10_000), city.keys["m-001"]) == (
        Code.PAYOUT_ACCOUNT_MISSING
    )
    city.payout_account("m-001")
    other = city.payout_cmd("m-001", 10_000, account="bd" * 32)
    assert city.code(other, OPERATOR) == Code.PAYOUT_ACCOUNT_MISMATCH


def test_only_the_merchant_names_its_payout_account(city: City) -> None:
    naming = c.SetPayoutAccount(id=city.new_id(), city="gimpo", merchant="m-001", account=ACCOUNT)
    assert city.code(naming, OPERATOR) == Code.SIGNER_NOT_AUTHORIZED
    assert city.official(naming) == Code.SIGNER_NOT_AUTHORIZED
    assert city.code(naming, city.keys["m-001"]) == Code.OK


def test_a_payout_moves_the_balance_into_transit_and_keeps_the_supply(city: City) -> None:
    city.payout_account("m-001")
    supply = city.state.supply()
    command = city.payout_cmd("m-001", 12_000)
    result = city.run(command, city.keys["m-001"])
    assert result.code == Code.OK and result.balance == 18_000
    owed = city.state.payouts[command.id]
    assert (owed.status, owed.amount, owed.merchant, owed.wallet) == (
        PAYOUT_PENDING, 12_000, "m-001", ""
    )  # fmt: skip
    assert city.state.supply() == supply  # the won are still in the trust account


@pytest.mark.parametrize(
    ("signer", "amount", "code"),
    [
        ("outsider", 1_000, Code.UNKNOWN_SIGNER),  # a stranger's junk
        ("merchant", 0, Code.INVALID_AMOUNT),
        ("operator", 30_001, Code.INSUFFICIENT_FUNDS),
        ("operator", 30_000, Code.OK),
    ],
)
def test_payout_refusals(city: City, signer: str, amount: int, code: Code) -> None:
    city.payout_account("m-001")
    key = {"outsider": OUTSIDER, "operator": OPERATOR, "merchant": city.keys["m-001"]}[signer]
    assert city.code(city.payout_cmd("m-001", amount), key) == code


def test_a_suspended_merchant_is_not_paid_out(city: City) -> None:
    city.payout_account("m-001")
    assert city.official(city.suspend("m-001")) == Code.OK
    assert city.code(city.payout_cmd("m-001", 1_000), OPERATOR) == Code.MERCHANT_NOT_ACTIVE


def test_settling_burns_once(city: City) -> None:
    city.payout_account("m-001")
    command = city.payout_cmd("m-001", 12_000)
    city.run(command, OPERATOR)
    burned, supply = city.state.totals.burned, city.state.supply()
    settle = city.settle_cmd(command.id, "m-001")
    assert city.code(settle, city.keys["m-001"]) == Code.SIGNER_NOT_AUTHORIZED
    assert city.code(settle, OPERATOR) == Code.OK
    assert city.state.totals.burned == burned + 12_000
    assert city.state.supply() == supply - 12_000
    assert city.state.payouts[command.id].status == PAYOUT_PAID
    assert city.state.merchants["m-001"].redeemed == 12_000
    assert city.code(city.settle_cmd(command.id, "m-001"), OPERATOR) == Code.PAYOUT_CLOSED
    assert city.code(city.return_cmd(command.id, "m-001"), OPERATOR) == Code.PAYOUT_CLOSED


def test_a_settlement_names_the_payouts_own_owner(city: City) -> None:
    city.payout_account("m-001")
    command = city.payout_cmd("m-001", 5_000)
    city.run(command, OPERATOR)
    wrong = c.SettlePayout(
        id=city.new_id(), city="gimpo", payout=command.id, bank_ref="MB-1", wallet="w-001"
    )
    assert city.code(wrong, OPERATOR) == Code.PAYOUT_NOT_FOUND
    unknown = c.SettlePayout(
        id=city.new_id(), city="gimpo", payout="f" * 32, bank_ref="MB-1", merchant="m-001"
    )
    assert city.code(unknown, OPERATOR) == Code.PAYOUT_NOT_FOUND


def test_a_returned_merchant_payout_is_back_on_its_balance(city: City) -> None:
    city.payout_account("m-001")
    command = city.payout_cmd("m-001", 12_000)
    city.run(command, OPERATOR)
    result = city.run(city.return_cmd(command.id, "m-001", "AC04"), OPERATOR)
    assert result.code == Code.OK and result.balance == 30_000
    owed = city.state.payouts[command.id]
    assert (owed.status, owed.returned) == (PAYOUT_RETURNED, "AC04")
    assert city.code(city.settle_cmd(command.id, "m-001"), OPERATOR) == Code.PAYOUT_CLOSED


def test_a_returned_citizen_payout_stays_owed_until_settled(city: City) -> None:
    # A citizen's payout as ledger/sales.py makes one (a cancelled purchase, say).
    city.state.payouts["p-1"] = Payout("p-1", "w-001", 7_000, "cancelled", "p-1", city.now)
    city.state.totals.minted += 7_000
    supply = city.state.supply()
    assert city.code(city.return_cmd("p-1", "w-001", "AC01"), OPERATOR) == Code.OK
    owed = city.state.payouts["p-1"]
    assert (owed.status, owed.returned) == (PAYOUT_PENDING, "AC01")
    assert city.state.supply() == supply
    assert city.code(city.settle_cmd("p-1", "w-001"), OPERATOR) == Code.OK
    assert city.state.supply() == supply - 7_000


def test_a_booked_payout_sent_back_is_made_again_once(city: City) -> None:
    city.payout_account("m-001")
    command = city.payout_cmd("m-001", 12_000)
    city.run(command, OPERATOR)
    assert city.code(city.settle_cmd(command.id, "m-001"), OPERATOR) == Code.OK
    supply, minted = city.state.supply(), city.state.totals.minted
    # A status report cannot return what the bank booked; only the statement's credit can.
    assert city.code(city.return_cmd(command.id, "m-001"), OPERATOR) == Code.PAYOUT_CLOSED
    back = city.return_cmd(command.id, "m-001", "AC04", bank_ref="MB-RTN-1")
    result = city.run(back, OPERATOR)
    assert result.code == Code.OK and result.balance == 30_000
    assert result.lots == [(command.id, 12_000)]
    assert city.state.totals.minted == minted + 12_000
    assert city.state.supply() == supply + 12_000
    assert city.state.merchants["m-001"].redeemed == 0
    assert city.state.payouts[command.id].status == PAYOUT_RETURNED
    again = city.return_cmd(command.id, "m-001", "AC04", bank_ref="MB-RTN-2")
    assert city.code(again, OPERATOR) == Code.PAYOUT_CLOSED


def test_a_pending_payout_has_nothing_booked_to_come_back(city: City) -> None:
    city.payout_account("m-001")
    command = city.payout_cmd("m-001", 1_000)
    city.run(command, OPERATOR)
    back = city.return_cmd(command.id, "m-001", "AC04", bank_ref="MB-RTN-1")
    assert city.code(back, OPERATOR) == Code.PAYOUT_CLOSED
