"""The counter services on both stores: issuing (the number sealed, never in clear, the
same card on a retry), a card for a wallet with its own key, marking, reissue, PINs,
top-up at the counter, balance per program, terminals, and tenant isolation."""

from __future__ import annotations

import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import MissingKey, new_id
from localpay.services.payments.card import numbers
from localpay.services.payments.card.errors import (
    BadPin,
    CardNotActive,
    IdempotencyKeyReused,
    LedgerRefused,
    NotCounterStaff,
    TerminalTaken,
)

from .conftest import CITY, OTHER, World, person


def test_a_card_only_wallet_is_opened_and_its_card_bound(world: World) -> None:
    issued = world.cards.issue(world.maker, CITY, "key-1")
    bin6 = world.cards.repo.bin_of(CITY, numbers.bin_of)
    assert numbers.in_range(issued.number, bin6) and issued.bind == ""
    view = issued.view
    assert view.bound and view.custodial and view.status == "active"
    assert view.masked.endswith(issued.number[-4:]) and issued.number not in view.masked
    assert world.cards.wallet_balance(CITY, view.wallet).balance == 0
    # A retry with the same key is the same card (the same number), not a second one.
    again = world.cards.issue(world.maker, CITY, "key-1")
    assert (again.number, again.view.card) == (issued.number, view.card)
    assert len(world.cards.cards(world.maker, CITY, view.wallet)) == 1


def test_the_number_is_never_stored_in_clear(world: World) -> None:
    issued = world.cards.issue(world.maker, CITY, "key-2", pin="1234")
    rows = world.store.sql("SELECT * FROM cards")
    text = repr(rows)
    assert issued.number not in text and issued.number[4:12] not in text
    assert "1234" not in repr(world.store.sql("SELECT pin_hash FROM cards"))
    chain = repr(world.store.sql("SELECT * FROM txs")) + repr(
        world.store.sql("SELECT * FROM state")
    )
    assert issued.number not in chain and issued.view.card in chain  # only the card id


def test_a_card_for_a_wallet_with_its_own_key_is_bound_by_its_holder(world: World) -> None:
    key = nacl.signing.SigningKey.generate()
    opened = c.OpenWallet(id=new_id(), city=CITY, wallet="w-phone01", keys=[public_key_hex(key)],
                          custodial=False)  # fmt: skip
    assert world.ledgers.execute(CITY, sign_command(opened, [key])).ok
    issued = world.cards.issue(world.maker, CITY, "key-3", wallet="w-phone01")
    assert not issued.view.bound and not issued.view.custodial
    bind = msgspec.json.decode(issued.bind.encode(), type=c.BindCard)
    assert bind.card == issued.view.card and bind.active
    assert world.ledgers.execute(CITY, sign_command(bind, [key])).ok  # the wallet signs
    assert world.cards.card(world.maker, CITY, issued.view.card).bound
    world.credit("w-phone01", 5_000)
    assert world.ask("0200", issued.number, 2_000).code == "00"
    with pytest.raises(IdempotencyKeyReused):
        world.cards.issue(world.maker, CITY, "key-3")  # the same key for another wallet


def test_marks_reissue_and_pins(world: World) -> None:
    number, wallet = world.card_wallet(10_000, pin="1234")
    old = world.cards.cards(world.maker, CITY, wallet)[0]
    with pytest.raises(BadPin):
        world.cards.set_pin(world.maker, CITY, old.card, "12")
    new = world.cards.reissue(world.maker, CITY, old.card, "key-4")
    assert new.number != number and new.view.pin and new.view.replaces == old.card
    statuses = {v.card: v.status for v in world.cards.cards(world.maker, CITY, wallet)}
    assert statuses == {old.card: "replaced", new.view.card: "active"}
    assert world.ask("0200", number, 1_000).code == "14"
    block = world.pin_block("1234", new.number)
    assert world.ask("0200", new.number, 1_000, pin_block=block).code == "00"
    first = world.cards.mark(world.maker, CITY, new.view.card, "lost")
    # Said twice (the form sent again): the same answer, nothing more happens.
    assert world.cards.mark(world.maker, CITY, new.view.card, "lost") == first
    with pytest.raises(CardNotActive):
        world.cards.mark(world.maker, CITY, new.view.card, "blocked")


def test_top_up_at_the_counter_buys_the_sale_with_its_discount(world: World) -> None:
    issued = world.cards.issue(world.maker, CITY, "key-5")
    wallet = issued.view.wallet
    topped = world.cards.top_up(world.maker, CITY, wallet, "general", 50_000, "cash-1")
    assert topped.paid == 50_000 and topped.credited == 55_000  # 10 % off
    assert topped.balance.balance == 55_000
    assert [(p.program, p.amount) for p in topped.balance.by_program] == [("general", 55_000)]
    again = world.cards.top_up(world.maker, CITY, wallet, "general", 50_000, "cash-1")
    assert again.balance.balance == 55_000  # the same key: no second purchase
    with pytest.raises(LedgerRefused):
        world.cards.top_up(world.maker, CITY, wallet, "general", 10_000_000, "cash-2")
    assert world.cards.balance(world.auditor, CITY, wallet).balance == 55_000


def test_terminals_belong_to_one_merchant(world: World) -> None:
    owner = person(CITY, "merchant_owner", "owner")
    owner = type(owner)(id=owner.id, city=CITY, role=owner.role, username="owner",
                        merchant="m-shop")  # fmt: skip
    assert world.cards.add_terminal(owner, CITY, "TSHOP002", "m-shop").merchant == "m-shop"
    with pytest.raises(NotCounterStaff):
        world.cards.add_terminal(owner, CITY, "TMART002", "m-mart")
    with pytest.raises(TerminalTaken):
        world.cards.add_terminal(world.maker, CITY, "TSHOP002", "m-mart")
    listed = [t.terminal for t in world.cards.terminals(owner, CITY, "m-shop")]
    assert listed == ["TSHOP001", "TSHOP002"]
    world.cards.remove_terminal(owner, CITY, "TSHOP002")
    number, _ = world.card_wallet(5_000)
    assert world.ask("0200", number, 1_000, terminal="TSHOP002").code == "58"


def test_another_city_sees_nothing(world: World) -> None:
    issued = world.cards.issue(world.maker, CITY, "key-6")
    wallet, card = issued.view.wallet, issued.view.card
    for call in (
        lambda: world.cards.issue(world.foreign, CITY, "key-7"),
        lambda: world.cards.cards(world.foreign, CITY, wallet),
        lambda: world.cards.card(world.foreign, CITY, card),
        lambda: world.cards.balance(world.foreign, CITY, wallet),
        lambda: world.cards.mark(world.foreign, CITY, card, "lost"),
        lambda: world.cards.terminals(world.foreign, CITY, None),
        lambda: world.cards.issue(world.auditor, CITY, "key-8"),  # auditors read only
    ):
        with pytest.raises(NotCounterStaff):
            call()
    assert world.cards.cards(world.foreign, OTHER, wallet) == []


def test_a_custodial_wallet_whose_key_is_not_here_gets_no_card(world: World) -> None:
    key = nacl.signing.SigningKey.generate()  # a card wallet whose key another system holds
    opened = c.OpenWallet(id=new_id(), city=CITY, wallet="w-card0001", keys=[public_key_hex(key)],
                          custodial=True)  # fmt: skip
    assert world.ledgers.execute(CITY, sign_command(opened, [key])).ok
    with pytest.raises(MissingKey):
        world.cards.issue(world.maker, CITY, "key-9", wallet="w-card0001")
    assert world.cards.cards(world.maker, CITY, "w-card0001") == []
