"""Events of transactions the ledger's state machine really applied (machine_city): a
checkout approved, partly captured and refunded; a card authorized, captured and
reversed; a card purchase captured at once; a claimed code; refused commands and a void
are no events. Each transaction is stored as the sequencer stores it (envelope + result)."""

from __future__ import annotations

import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.blocks import TxRecord, encode_result
from localpay.ledger.signatures import sign_command
from localpay.services.webhooks import events as ev
from localpay.testing.machine_city import OPERATOR, T0, City

CARD = "ab" * 32


class Log:
    """The city's transactions as stored, and the applied commands by id (the origin)."""

    def __init__(self, city: City) -> None:
        self.city = city
        self.txs: list[TxRecord] = []
        self.applied: dict[str, c.Command] = {}

    def run(self, command: c.Command, *signers: nacl.signing.SigningKey) -> ev.Event | None:
        result = self.city.run(command, *signers)
        tx = TxRecord(
            seq=len(self.txs), height=len(self.txs) + 1, id=command.id,
            kind=c.command_type(command), envelope=sign_command(command, list(signers)),
            result=encode_result(result),
        )  # fmt: skip
        self.txs.append(tx)
        if result.code == Code.OK:
            self.applied[command.id] = command
        return ev.event_of(tx, T0, self.applied.get)


@pytest.fixture
def log() -> Log:
    city = City()
    city.program("general", budget=1_000_000)
    city.wallet("alice")
    city.merchant("bakery")
    city.credit("alice", "general", 100_000)
    city.card("alice", CARD)
    return Log(city)


def _types(found: list[ev.Event | None]) -> list[str | None]:
    return [e.type if e else None for e in found]


def test_checkout_approved_captured_in_part_refunded(log: Log) -> None:
    town, alice, bakery = log.city, log.city.keys["alice"], log.city.keys["bakery"]
    hold = town.checkout_hold_cmd("alice", "bakery", 30_000, "ci_1", "order-9")
    found = [
        log.run(hold, alice),
        log.run(town.capture_cmd(hold, 25_000), bakery),
        log.run(town.refund_cmd("bakery", hold.id, 5_000), bakery),
    ]
    assert _types(found) == ["checkout.approved", "checkout.captured", "payment.refunded"]
    approved, captured, refunded = found
    assert approved is not None and approved.data["order"] == "order-9"
    assert captured is not None and (captured.data["amount"], captured.data["held"]) == (
        25_000, 30_000,
    )  # fmt: skip
    assert refunded is not None and refunded.data["intent"] == "ci_1"
    assert all(e is not None and e.merchant == "bakery" for e in found)


def test_a_cancelled_checkout(log: Log) -> None:
    town = log.city
    hold = town.checkout_hold_cmd("alice", "bakery", 10_000, "ci_2")
    found = [
        log.run(hold, town.keys["alice"]),
        log.run(town.release_cmd(hold), town.keys["bakery"]),
    ]
    assert _types(found) == ["checkout.approved", "checkout.cancelled"]


def test_card_authorized_captured_reversed_and_a_purchase_at_once(log: Log) -> None:
    town, card = log.city, log.city.keys[f"card:{CARD}"]
    hold = town.card_hold_cmd("alice", CARD, "bakery", 9_000, "000000000001")
    purchase = town.card_hold_cmd("alice", CARD, "bakery", 2_000, "000000000002", capture=True)
    found = [
        log.run(hold, card),
        log.run(town.capture_cmd(hold, 9_000), card),
        log.run(town.release_cmd(hold), card),  # the card's reversal within 24 h
        log.run(purchase, card),
    ]
    assert _types(found) == [
        "card.authorized", "card.captured", "card.reversed", "payment.succeeded",
    ]  # fmt: skip
    assert found[3] is not None and found[3].data["channel"] == "card"


def test_a_claimed_code_is_a_payment(log: Log) -> None:
    town = log.city
    code = "ef" * 32
    offer = c.PresentCode(id=town.new_id(), city="gimpo", wallet="alice", code=code, cap=5_000)
    claim = c.ClaimCode(
        id=town.new_id(), city="gimpo", code=code, wallet="alice", merchant="bakery", amount=4_000
    )
    found = [log.run(offer, town.keys["alice"]), log.run(claim, town.keys["bakery"])]
    assert _types(found) == [None, "payment.succeeded"]
    assert found[1] is not None and found[1].data["channel"] == "code"


def test_refused_and_void_are_no_events(log: Log) -> None:
    town = log.city
    hold = town.checkout_hold_cmd("alice", "bakery", 10**6, "ci_3")  # more than she has
    assert log.run(hold, town.keys["alice"]) is None
    assert log.txs[-1].decoded_result().code == Code.INSUFFICIENT_FUNDS
    unseen = town.card_hold_cmd("alice", CARD, "bakery", 1_000, "000000000009")
    # A reversal that overtook its original voids the id: nothing moved, no event.
    assert log.run(town.release_cmd(unseen), town.keys[f"card:{CARD}"]) is None
    assert log.run(unseen, town.keys[f"card:{CARD}"]) is None  # refused: hold_voided


def test_a_shops_payout_sent_paid_and_returned_after_booking(log: Log) -> None:
    town, bakery = log.city, log.city.keys["bakery"]
    town.paid("alice", "bakery", 20_000)
    town.payout_account("bakery")
    first, second = town.payout_cmd("bakery", 12_000), town.payout_cmd("bakery", 8_000)
    sent = log.run(first, bakery)
    log.run(second, OPERATOR)
    paid = log.run(town.settle_cmd(first.id, "bakery", "MB-7"), OPERATOR)
    refused = log.run(town.return_cmd(second.id, "bakery", "AC04"), OPERATOR)
    came_back = log.run(town.return_cmd(first.id, "bakery", "AC04", bank_ref="MB-RTN"), OPERATOR)
    assert sent is not None and sent.type == ev.PAYOUT_SENT
    assert sent.data == {"merchant": "bakery", "payout": first.id, "amount": 12_000}
    assert paid is not None and paid.type == ev.PAYOUT_PAID and paid.data["bank_ref"] == "MB-7"
    assert refused is not None and refused.type == ev.PAYOUT_RETURNED
    assert (refused.data["reason"], refused.data["after_booking"]) == ("AC04", False)
    assert came_back is not None and came_back.data["after_booking"] is True
    assert came_back.data["amount"] == 12_000
