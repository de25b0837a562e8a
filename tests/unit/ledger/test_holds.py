"""Holds on the ledger: card authorizations and checkout approvals, captured, released,
reversed, voided; and customer-presented one-time codes.

Runs through machine_city's City, which checks after every command that a rejection
changed nothing, that every change was reported, and the invariants (supply counts the
held money; a hold's draws equal its amount)."""

from __future__ import annotations

import pytest

from localpay.domain import commands as c
from localpay.domain.calendar import DAY_MS
from localpay.domain.codes import Code
from localpay.domain.limits import CODE_MS_MAX, HOLD_MS_MAX, REVERSAL_MS_MAX, VOID_KEEP_MS_MAX
from localpay.ledger.state import CAPTURED, HELD, RELEASED, REVERSED
from localpay.testing.machine_city import CITY, OPERATOR, OUTSIDER, City

CARD = "ab" * 32
OTHER_CARD = "cd" * 32


@pytest.fixture
def town() -> City:
    city = City()
    city.program("general", budget=1_000_000, daily_cap=100_000)
    city.program("youth", budget=1_000_000, allowed_categories=["bakery"])
    city.wallet("alice")
    city.wallet("bob")
    city.merchant("bakery")
    city.merchant("garage", category="garage")
    city.credit("alice", "general", 30_000)
    city.credit("alice", "youth", 20_000)
    city.card("alice", CARD)
    return city


def card_key(town: City):  # type: ignore[no-untyped-def]
    return town.keys[f"card:{CARD}"]


def held(town: City, amount: int, merchant: str = "bakery", rrn: str = "000000000001") -> c.Hold:
    command = town.card_hold_cmd("alice", CARD, merchant, amount, rrn)
    assert town.code(command, card_key(town)) == Code.OK
    return command


def test_a_card_hold_takes_the_money_out_of_the_wallet_but_pays_no_one_yet(town: City) -> None:
    supply = town.state.supply()
    hold = held(town, 25_000)
    assert town.balance("alice") == 25_000
    assert town.state.merchants["bakery"].balance == 0
    record = town.state.holds[hold.id]
    assert (record.status, record.amount, record.terminal, record.rrn) == (
        HELD,
        25_000,
        "T0000001",
        "000000000001",
    )
    assert town.state.supply() == supply


def test_a_partial_capture_pays_the_merchant_and_gives_the_rest_back_at_once(town: City) -> None:
    hold = held(town, 25_000)
    result = town.run(town.capture_cmd(hold, 18_000), town.keys["bakery"])
    assert result.code == Code.OK and result.balance == 25_000 + 7_000
    assert town.state.merchants["bakery"].balance == 18_000
    assert town.state.holds[hold.id].status == CAPTURED
    payment = town.state.payments[hold.id]
    assert payment.amount == 18_000 and sum(d.amount for d in payment.draws) == 18_000
    # The capture makes an ordinary payment: the merchant refunds it by the hold's id.
    assert town.refund("bakery", hold.id, 18_000).code == Code.OK
    assert town.balance("alice") == 50_000


def test_a_hold_follows_the_program_rules_like_a_payment(town: City) -> None:
    # Youth money is for bakeries only: at the garage only general money is usable.
    command = town.card_hold_cmd("alice", CARD, "garage", 40_000, "000000000002")
    assert town.code(command, card_key(town)) == Code.CATEGORY_DENIED
    # The daily cap of general money binds a hold as it binds a payment.
    command = town.card_hold_cmd("alice", CARD, "bakery", 45_000, "000000000003")
    assert town.code(command, card_key(town)) == Code.OK
    again = town.card_hold_cmd("alice", CARD, "bakery", 6_000, "000000000004")
    assert town.code(again, card_key(town)) == Code.INSUFFICIENT_FUNDS


def test_only_the_cards_bound_key_signs_its_holds(town: City) -> None:
    command = town.card_hold_cmd("alice", CARD, "bakery", 1_000, "000000000005")
    assert town.code(command, town.keys["alice"]) == Code.SIGNER_NOT_AUTHORIZED
    unbound = town.card_hold_cmd("alice", OTHER_CARD, "bakery", 1_000, "000000000006")
    assert town.code(unbound, card_key(town)) == Code.CARD_NOT_BOUND
    # A stranger's key is not even recorded.
    assert town.code(command, OUTSIDER) == Code.UNKNOWN_SIGNER


def test_a_refused_card_hold_is_recorded_with_its_reason(town: City) -> None:
    """The card key is known to the chain: its refusals are answers, not junk."""
    command = town.card_hold_cmd("alice", CARD, "bakery", 999_000, "000000000007")
    assert town.code(command, card_key(town)) == Code.INSUFFICIENT_FUNDS


def test_an_unbound_card_signs_nothing_more(town: City) -> None:
    key = card_key(town)
    unbind = c.BindCard(
        id=town.new_id(),
        city=CITY,
        wallet="alice",
        card=CARD,
        key=key.verify_key.encode().hex(),
        active=False,
    )
    assert town.code(unbind, town.keys["alice"]) == Code.OK
    command = town.card_hold_cmd("alice", CARD, "bakery", 1_000, "000000000008")
    assert town.code(command, key) == Code.UNKNOWN_SIGNER


@pytest.mark.parametrize(
    "fields",
    [
        {"card": CARD},  # a card without terminal, STAN and RRN
        {"card": CARD, "terminal": "T1", "stan": "000001", "rrn": "1", "intent": "i-1"},
        {"intent": "i-1"},  # an intent without the order
        {"intent": "i-1", "order": "o-1", "capture": True},  # checkouts are captured later
        {},
    ],
)
def test_a_hold_is_a_cards_or_a_checkouts_never_both_nor_neither(
    town: City, fields: dict[str, object]
) -> None:
    command = c.Hold(
        id=town.new_id(), city=CITY, wallet="alice", merchant="bakery", amount=1_000, **fields
    )  # type: ignore[arg-type]
    assert town.code(command, town.keys["alice"], card_key(town)) == Code.HOLD_INVALID


def test_a_checkout_intent_is_approved_at_most_once(town: City) -> None:
    first = town.checkout_hold_cmd("alice", "bakery", 10_000, "intent-1")
    assert town.code(first, town.keys["alice"]) == Code.OK
    assert town.state.intents["intent-1"] == first.id
    second = town.checkout_hold_cmd("alice", "bakery", 10_000, "intent-1", order="order-2")
    assert town.code(second, town.keys["alice"]) == Code.INTENT_USED
    # Even once it is released: an intent is paid at most once, ever.
    assert town.code(town.release_cmd(first), town.keys["bakery"]) == Code.OK
    third = town.checkout_hold_cmd("alice", "bakery", 10_000, "intent-1")
    assert town.code(third, town.keys["alice"]) == Code.INTENT_USED


def test_a_card_only_wallet_does_not_approve_checkouts(town: City) -> None:
    town.wallet("grandma", custodial=True)
    town.credit("grandma", "general", 10_000)
    command = town.checkout_hold_cmd("grandma", "bakery", 1_000, "intent-9")
    assert town.code(command, town.keys["grandma"]) == Code.EVIDENCE_MISSING


def test_a_capture_is_bounded_by_the_hold_and_happens_once(town: City) -> None:
    hold = held(town, 10_000)
    merchant = town.keys["bakery"]
    assert town.code(town.capture_cmd(hold, 10_001), merchant) == Code.CAPTURE_EXCEEDS_HOLD
    assert town.code(town.capture_cmd(hold, 10_000), merchant) == Code.OK
    assert town.code(town.capture_cmd(hold, 1), merchant) == Code.HOLD_CLOSED
    # Another merchant's key is no party to the hold: not even recorded.
    assert town.code(town.capture_cmd(hold, 1), town.keys["garage"]) == Code.UNKNOWN_SIGNER


def test_the_card_itself_may_complete_its_hold_but_the_wallet_key_may_not(town: City) -> None:
    hold = held(town, 10_000)
    assert town.code(town.capture_cmd(hold, 5_000), town.keys["alice"]) == (
        Code.SIGNER_NOT_AUTHORIZED
    )
    assert town.code(town.capture_cmd(hold, 5_000), card_key(town)) == Code.OK


def test_an_expired_hold_cannot_be_captured_and_the_operator_then_releases_it(town: City) -> None:
    hold = held(town, 10_000)
    assert town.code(town.release_cmd(hold), OPERATOR) == Code.HOLD_NOT_EXPIRED
    town.now += HOLD_MS_MAX
    assert town.code(town.capture_cmd(hold, 10_000), town.keys["bakery"]) == Code.HOLD_EXPIRED
    assert town.code(town.release_cmd(hold), OPERATOR) == Code.OK
    assert town.balance("alice") == 50_000
    assert town.state.holds[hold.id].status == RELEASED


def test_a_release_gives_back_the_daily_room_the_hold_used(town: City) -> None:
    big = held(town, 45_000)
    assert town.code(town.release_cmd(big), town.keys["bakery"]) == Code.OK
    again = town.card_hold_cmd("alice", CARD, "bakery", 45_000, "000000000010")
    assert town.code(again, card_key(town)) == Code.OK


def test_a_card_reverses_its_captured_purchase_for_a_day(town: City) -> None:
    purchase = town.card_hold_cmd("alice", CARD, "bakery", 12_000, "000000000011", capture=True)
    assert town.code(purchase, card_key(town)) == Code.OK
    assert town.state.merchants["bakery"].balance == 12_000
    # The merchant cannot "release" what it was paid: it refunds instead.
    assert town.code(town.release_cmd(purchase), town.keys["bakery"]) == Code.HOLD_CLOSED
    assert town.code(town.release_cmd(purchase), card_key(town)) == Code.OK
    assert town.state.holds[purchase.id].status == REVERSED
    assert town.state.merchants["bakery"].balance == 0
    assert town.balance("alice") == 50_000
    assert town.refund("bakery", purchase.id, 1).code == Code.REFUND_EXCEEDS_PAYMENT


def test_a_reversal_after_a_day_is_refused(town: City) -> None:
    purchase = town.card_hold_cmd("alice", CARD, "bakery", 12_000, "000000000012", capture=True)
    assert town.code(purchase, card_key(town)) == Code.OK
    town.now += REVERSAL_MS_MAX
    assert town.code(town.release_cmd(purchase), card_key(town)) == Code.REVERSAL_WINDOW_CLOSED


def test_a_reversal_that_overtook_its_original_voids_it(town: City) -> None:
    original = town.card_hold_cmd("alice", CARD, "bakery", 12_000, "000000000013")
    result = town.run(town.release_cmd(original), card_key(town))
    assert result.code == Code.OK and result.lots == []
    assert town.code(original, card_key(town)) == Code.HOLD_VOIDED
    assert town.balance("alice") == 50_000
    # Nobody but the card or the merchant voids ids: not the operator.
    stray = town.card_hold_cmd("alice", CARD, "bakery", 1, "000000000014")
    assert town.code(town.release_cmd(stray), OPERATOR) == Code.SIGNER_NOT_AUTHORIZED


def test_closed_holds_and_voids_leave_the_state_in_time_and_open_holds_never(town: City) -> None:
    closed = held(town, 1_000, rrn="000000000015")
    assert town.code(town.release_cmd(closed), town.keys["bakery"]) == Code.OK
    still_open = held(town, 1_000, rrn="000000000016")
    voided = town.card_hold_cmd("alice", CARD, "bakery", 1, "000000000017")
    assert town.code(town.release_cmd(voided), card_key(town)) == Code.OK
    assert town.state.retire(town.now + VOID_KEEP_MS_MAX - 1) == []
    assert town.state.retire(town.now + VOID_KEEP_MS_MAX) == [f"v:{voided.id}"]
    horizon = town.state.refund_window_ms() + 30 * DAY_MS
    retired = town.state.retire(town.now + horizon)
    assert f"h:{closed.id}" in retired and f"h:{still_open.id}" not in retired
    assert still_open.id in town.state.holds


# -- customer-presented codes ----------------------------------------------------------------

CODE = "ee" * 32


def present(town: City, cap: int, code: str = CODE) -> str:
    command = c.PresentCode(id=town.new_id(), city=CITY, wallet="alice", code=code, cap=cap)
    return town.code(command, town.keys["alice"])


def claim(town: City, amount: int, merchant: str = "bakery", code: str = CODE) -> str:
    command = c.ClaimCode(
        id=town.new_id(), city=CITY, code=code, wallet="alice", merchant=merchant, amount=amount
    )
    return town.code(command, town.keys[merchant])


def test_a_presented_code_is_captured_once_up_to_its_cap(town: City) -> None:
    assert present(town, 20_000) == Code.OK
    assert town.balance("alice") == 50_000  # presenting moves no money
    assert claim(town, 20_001) == Code.CODE_CAP_EXCEEDED
    assert claim(town, 15_000) == Code.OK
    assert town.balance("alice") == 35_000
    assert claim(town, 1) == Code.CODE_USED
    assert claim(town, 1, merchant="garage") == Code.CODE_USED
    assert present(town, 20_000) == Code.CODE_USED  # the same code never comes back


def test_a_code_expires_after_three_minutes(town: City) -> None:
    assert present(town, 20_000) == Code.OK
    town.now += CODE_MS_MAX
    assert claim(town, 1_000) == Code.CODE_EXPIRED


def test_a_refused_claim_leaves_the_code_claimable(town: City) -> None:
    assert present(town, 50_000) == Code.OK
    assert claim(town, 40_000, merchant="garage") == Code.CATEGORY_DENIED  # youth: bakeries
    assert claim(town, 40_000) == Code.OK


def test_a_code_names_its_wallet(town: City) -> None:
    assert present(town, 5_000) == Code.OK
    command = c.ClaimCode(
        id=town.new_id(), city=CITY, code=CODE, wallet="bob", merchant="bakery", amount=1
    )
    assert town.code(command, town.keys["bakery"]) == Code.CODE_NOT_FOUND
