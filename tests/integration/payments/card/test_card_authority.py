"""CardService.answer on both stores, each ISO 8583 response code from a real ledger
outcome: holds, purchases, completions, duplicates, reversals before and after their
original, PINs, lost/blocked/expired cards and terminals of merchants not active."""

from __future__ import annotations

import pytest

from localpay.domain.calendar import DAY_MS
from localpay.services.cities import inspect
from localpay.services.payments.card import authorize, numbers
from localpay.services.payments.card.messages import CardAnswer

from .conftest import CITY, World


def merchant_balance(world: World, merchant: str = "m-shop") -> int:
    return inspect.merchant_view(world.store, CITY, merchant).balance


def test_a_purchase_debits_once_and_reports_the_balance_left(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    answer = world.ask("0200", number, 12_000)
    assert answer.code == "00" and len(answer.auth_code) == 6
    assert answer.balance == 38_000 == world.balance(wallet)
    assert merchant_balance(world) == 12_000


def test_a_duplicate_transmission_gets_the_first_answer_and_no_second_debit(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    first = world.ask("0200", number, 12_000, rrn="000000000777", stan="000777")
    again = world.ask("0200", number, 12_000, rrn="000000000777", stan="000777")
    assert again == first and first.code == "00"
    assert world.balance(wallet) == 38_000
    assert merchant_balance(world) == 12_000
    assert world.ask("0200", number, 8_000).code == "00"  # the wallet moves on
    late = world.ask("0200", number, 12_000, rrn="000000000777", stan="000777")
    assert late == first  # the first answer, its balance (54) too, from the first receipt
    assert world.balance(wallet) == 30_000


def test_another_message_under_a_used_rrn_is_94(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    assert world.ask("0200", number, 12_000, rrn="000000000778", stan="000001").code == "00"
    assert world.ask("0200", number, 13_000, rrn="000000000778", stan="000002").code == "94"
    assert world.balance(wallet) == 38_000


def test_an_authorization_then_its_completion_captures_part(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    held = world.ask("0100", number, 30_000)
    assert held.code == "00" and held.balance == 20_000
    done = world.ask("0200", number, 25_000, auth_code=held.auth_code)
    assert done.code == "00" and done.auth_code == held.auth_code
    assert world.balance(wallet) == 25_000  # the 5,000 not captured came back
    assert merchant_balance(world) == 25_000
    over = world.card_wallet(50_000)[0]
    first = world.ask("0100", over, 10_000)
    assert world.ask("0200", over, 10_001, auth_code=first.auth_code).code == "61"


def test_balance_enquiry_moves_no_money(world: World) -> None:
    number, wallet = world.card_wallet(40_000)
    answer = world.ask("0100", number, 0, processing="310000")
    assert answer == CardAnswer("00", balance=40_000)
    assert world.balance(wallet) == 40_000


@pytest.mark.parametrize(
    ("amount", "terminal", "code"),
    [
        (60_000, "TSHOP001", "51"),  # more than the wallet holds
        (10_000, "TMART001", "57"),  # the program's money is not for bakeries
        (100_001, "TSHOP001", "61"),  # over the program's per-payment cap
        (10_000, "TGONE001", "58"),  # a suspended merchant
        (10_000, "TNEW0001", "58"),  # a merchant not yet approved
        (10_000, "TNONE001", "58"),  # no such terminal
    ],
)
def test_ledger_refusals_as_iso_codes(world: World, amount: int, terminal: str, code: str) -> None:
    number, wallet = world.card_wallet(200_000 if amount > 100_000 else 50_000)
    before = world.balance(wallet)
    assert world.ask("0200", number, amount, terminal=terminal).code == code
    assert world.balance(wallet) == before


def test_unknown_lost_and_blocked_cards_are_14(world: World) -> None:
    bin6 = world.cards.repo.bin_of(CITY, numbers.bin_of)
    assert world.ask("0200", numbers.new_number(bin6), 1_000).code == "14"
    for mark in ("lost", "blocked"):
        number, wallet = world.card_wallet(10_000)
        card = world.cards.cards(world.maker, CITY, wallet)[0]
        view = world.cards.mark(world.maker, CITY, card.card, mark)
        assert view.status == mark and not view.bound  # unbound on the chain too
        assert world.ask("0200", number, 1_000).code == "14"
        assert world.balance(wallet) == 10_000


def test_a_card_unbound_on_the_chain_is_14_from_the_ledger(world: World) -> None:
    number, _ = world.card_wallet(10_000)
    record = world.cards.find_card(CITY, number)
    assert record is not None
    world.cards._unbind(record)  # the chain no longer knows the card; our row says active
    assert world.ask("0200", number, 1_000).code == "14"


def test_expired_cards_are_54(world: World) -> None:
    number, _ = world.card_wallet(10_000)
    assert world.ask("0200", number, 1_000, expiry="2001").code == "54"  # the terminal's date
    record = world.cards.find_card(CITY, number)
    assert record is not None
    assert world.ask("0200", number, 1_000, expiry=record.expiry).code == "00"
    world.clock.now_ms += 6 * 366 * DAY_MS  # past the card's own expiry
    assert world.ask("0200", number, 1_000).code == "54"


def test_five_wrong_pins_lock_the_card_until_the_counter_resets_it(world: World) -> None:
    number, wallet = world.card_wallet(10_000, pin="2468")
    wrong = world.pin_block("1357", number)
    assert [world.ask("0200", number, 1_000, pin_block=wrong).code for _ in range(5)] == [
        "55", "55", "55", "55", "75",
    ]  # fmt: skip
    right = world.pin_block("2468", number)
    assert world.ask("0200", number, 1_000, pin_block=right).code == "75"
    assert world.balance(wallet) == 10_000
    card = world.cards.cards(world.maker, CITY, wallet)[0]
    assert card.pin_locked
    world.cards.set_pin(world.maker, CITY, card.card, "2468")
    assert world.ask("0200", number, 1_000, pin_block=right).code == "00"


def test_a_right_pin_resets_the_count_of_wrong_ones(world: World) -> None:
    number, _ = world.card_wallet(10_000, pin="2468")
    wrong, right = world.pin_block("1111", number), world.pin_block("2468", number)
    for _ in range(4):
        assert world.ask("0100", number, 100, pin_block=wrong).code == "55"
    assert world.ask("0100", number, 100, pin_block=right).code == "00"
    assert world.ask("0100", number, 100, pin_block=wrong).code == "55"


def test_a_reversal_after_the_answer_restores_the_money(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    held = world.ask("0100", number, 20_000, rrn="000000000901")
    assert held.code == "00" and world.balance(wallet) == 30_000
    back = world.ask("0400", number, 20_000, rrn="000000000901", auth_code=held.auth_code)
    assert back.code == "00" and back.balance == 50_000 == world.balance(wallet)
    paid = world.ask("0200", number, 15_000, rrn="000000000902")
    assert paid.code == "00" and merchant_balance(world) == 15_000
    assert world.ask("0420", number, 15_000, rrn="000000000902").code == "00"
    assert world.balance(wallet) == 50_000 and merchant_balance(world) == 0
    again = world.ask("0420", number, 15_000, rrn="000000000902")
    assert again.code == "00" and world.balance(wallet) == 50_000  # repeated advice


def test_a_reversal_of_a_completion_by_its_own_rrn_restores_the_money(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    held = world.ask("0100", number, 20_000, rrn="000000000911")
    done = world.ask("0200", number, 18_000, rrn="000000000912", auth_code=held.auth_code)
    assert done.code == "00" and merchant_balance(world) == 18_000
    back = world.ask("0400", number, 18_000, rrn="000000000912")  # no field 38
    assert back.code == "00" and world.balance(wallet) == 50_000
    assert merchant_balance(world) == 0


def test_a_reversal_before_its_original_voids_it(world: World) -> None:
    number, wallet = world.card_wallet(50_000)
    assert world.ask("0400", number, 20_000, rrn="000000000950").code == "00"
    late = world.ask("0100", number, 20_000, rrn="000000000950")
    assert late.code == "94"
    assert world.balance(wallet) == 50_000


def test_an_unexpected_failure_is_96_and_never_raised(world: World) -> None:
    number, wallet = world.card_wallet(10_000)
    assert world.ask("0200", number, 0).code == "96"  # a zero amount: the ledger refuses it
    assert world.balance(wallet) == 10_000


def test_network_management_is_approved(world: World) -> None:
    assert world.ask("0800", "").code == "00"


def test_an_approval_the_store_cannot_keep_is_still_approved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's hold is durable before the approval row is written: a store refusing
    that row (a busy file) must not turn the approved purchase into 96 at the terminal,
    or the customer would be failed but deducted. The reversal still finds the hold."""
    number, wallet = world.card_wallet(50_000)

    def busy(*_: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(world.cards.repo, "add_approval", busy)
    answer = world.ask("0100", number, 20_000, rrn="000000000960")
    assert answer.code == "00" and answer.balance == 30_000 == world.balance(wallet)
    assert world.ask("0400", number, 20_000, rrn="000000000960").code == "00"
    assert world.balance(wallet) == 50_000


def test_a_failure_after_the_ledger_took_the_money_gives_it_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 96 is a decline to the terminal, which then sends no reversal: the host reverses
    on its own whatever the purchase did, so no customer is declined and charged."""
    number, wallet = world.card_wallet(50_000)

    def broken(*_: object, **__: object) -> int:
        raise RuntimeError("the balance could not be read")

    shop = merchant_balance(world)
    monkeypatch.setattr(authorize, "_balance", broken)
    answer = world.ask("0200", number, 12_000, rrn="000000000970")
    assert answer.code == "96"
    assert world.balance(wallet) == 50_000 and merchant_balance(world) == shop
