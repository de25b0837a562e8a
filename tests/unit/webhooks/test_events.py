"""The events of stored transactions (services/webhooks/events.py): which transaction is
which event, its stable id, what the merchant is told (never a wallet id), and what is
no event (refused, a hold never applied, commands of no merchant)."""

from __future__ import annotations

import json

import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.ledger.blocks import TxRecord, encode_result
from localpay.ledger.results import Result
from localpay.ledger.signatures import sign_command
from localpay.services.webhooks import events as ev

CITY = "gimpo"
KEY = nacl.signing.SigningKey(b"\x07" * 32)
T = 1_780_000_000_123  # 2026-05-28T20:26:40.123Z


def _id(n: int) -> str:
    return f"{n:032x}"


def _tx(command: c.Command, seq: int = 5, code: str = "ok") -> TxRecord:
    return TxRecord(
        seq=seq, height=2, id=command.id, kind=c.command_type(command),
        envelope=sign_command(command, [KEY]), result=encode_result(Result(code=code)),
    )  # fmt: skip


CHECKOUT = c.Hold(
    id=_id(1), city=CITY, wallet="w-0000001", merchant="m-1", amount=30_000,
    intent="ci_abc", order="order-77",
)  # fmt: skip
CARD = c.Hold(
    id=_id(2), city=CITY, wallet="w-0000001", merchant="m-1", amount=9_000, card="ab" * 32,
    terminal="T0000001", stan="000123", rrn="612345678901",
)  # fmt: skip
HELD: dict[str, c.Command] = {CHECKOUT.id: CHECKOUT, CARD.id: CARD}


def _event(command: c.Command, code: str = "ok") -> ev.Event | None:
    return ev.event_of(_tx(command, code=code), T, HELD.get)


def test_a_payment_its_stable_id_timestamp_and_no_wallet() -> None:
    pay = c.Pay(
        id=_id(9), city=CITY, wallet="w-0000001", merchant="m-1", amount=12_000, evidence=""
    )
    found = _event(pay)
    assert found is not None
    assert (found.id, found.type, found.merchant, found.seq) == (
        f"evt_{_id(9)}", "payment.succeeded", "m-1", 5,
    )  # fmt: skip
    body = json.loads(found.body())
    assert body == {
        "type": "payment.succeeded",
        "id": f"evt_{_id(9)}",
        "timestamp": "2026-05-28T20:26:40.123Z",
        "data": {"merchant": "m-1", "payment": _id(9), "amount": 12_000, "channel": "pay"},
    }
    assert "w-0000001" not in found.body().decode()
    assert found.body() == _event(pay).body()  # type: ignore[union-attr]  # same bytes


def test_checkout_approved_captured_cancelled_refunded() -> None:
    approved = _event(CHECKOUT)
    assert approved is not None and approved.type == "checkout.approved"
    assert approved.data == {
        "merchant": "m-1", "hold": CHECKOUT.id, "amount": 30_000, "channel": "checkout",
        "intent": "ci_abc", "order": "order-77", "expires_at": "2026-06-04T20:26:40.123Z",
    }  # fmt: skip
    capture = c.Capture(
        id=_id(3), city=CITY, hold=CHECKOUT.id, wallet="w-0000001", merchant="m-1", amount=25_000
    )
    captured = _event(capture)
    assert captured is not None and captured.type == "checkout.captured"
    assert (captured.data["payment"], captured.data["amount"], captured.data["held"]) == (
        CHECKOUT.id, 25_000, 30_000,
    )  # fmt: skip
    assert captured.data["order"] == "order-77"
    release = c.Release(id=_id(4), city=CITY, hold=CHECKOUT.id, wallet="w-0000001", merchant="m-1")
    cancelled = _event(release)
    assert cancelled is not None and cancelled.type == "checkout.cancelled"
    refund = c.Refund(id=_id(5), city=CITY, merchant="m-1", payment=CHECKOUT.id, amount=5_000)
    refunded = _event(refund)
    assert refunded is not None and refunded.type == "payment.refunded"
    assert refunded.data == {
        "merchant": "m-1", "refund": _id(5), "payment": CHECKOUT.id, "amount": 5_000,
        "channel": "checkout", "intent": "ci_abc", "order": "order-77",
    }  # fmt: skip


def test_card_authorized_captured_reversed() -> None:
    authorized = _event(CARD)
    assert authorized is not None and authorized.type == "card.authorized"
    assert authorized.data["terminal"] == "T0000001" and authorized.data["stan"] == "000123"
    assert "ab" * 32 not in authorized.body().decode()  # the card's id is not the shop's
    capture = c.Capture(
        id=_id(6), city=CITY, hold=CARD.id, wallet="w-0000001", merchant="m-1", amount=9_000
    )
    assert (_event(capture) or pytest.fail()).type == "card.captured"
    release = c.Release(id=_id(7), city=CITY, hold=CARD.id, wallet="w-0000001", merchant="m-1")
    assert (_event(release) or pytest.fail()).type == "card.reversed"


def test_a_purchase_captured_at_once_and_a_claimed_code_are_payments() -> None:
    purchase = c.Hold(
        id=_id(8), city=CITY, wallet="w-1", merchant="m-1", amount=4_000, card="cd" * 32,
        terminal="T1", stan="000001", rrn="R1", capture=True,
    )  # fmt: skip
    paid = _event(purchase)
    assert paid is not None and paid.type == "payment.succeeded"
    assert (paid.data["payment"], paid.data["channel"]) == (purchase.id, "card")
    claim = c.ClaimCode(
        id=_id(10), city=CITY, code="ef" * 32, wallet="w-1", merchant="m-1", amount=2_500
    )
    claimed = _event(claim)
    assert claimed is not None and claimed.type == "payment.succeeded"
    assert claimed.data == {
        "merchant": "m-1",
        "payment": _id(10),
        "amount": 2_500,
        "channel": "code",
    }


def test_what_is_no_event() -> None:
    pay = c.Pay(id=_id(11), city=CITY, wallet="w-1", merchant="m-1", amount=1, evidence="")
    assert _event(pay, code="insufficient_funds") is None  # refused: nothing happened
    # A release of a hold never applied (a reversal before its original) voids the id.
    void = c.Release(id=_id(12), city=CITY, hold=_id(99), wallet="w-1", merchant="m-1")
    assert _event(void) is None
    capture = c.Capture(id=_id(13), city=CITY, hold=_id(99), wallet="w-1", merchant="m-1", amount=1)
    assert _event(capture) is None
    opening = c.OpenWallet(
        id=_id(14), city=CITY, wallet="w-2", keys=[KEY.verify_key.encode().hex()], custodial=False
    )
    assert _event(opening) is None
    present = c.PresentCode(id=_id(15), city=CITY, wallet="w-1", code="ef" * 32, cap=10_000)
    assert _event(present) is None  # no money moves until a shop claims the code


def test_every_event_type_is_listed_once() -> None:
    assert len(set(ev.EVENT_TYPES)) == len(ev.EVENT_TYPES) == 11


@pytest.mark.parametrize(
    ("text", "tx"),
    [
        (f"evt_{_id(1)}", _id(1)),
        ("evt_" + "G" * 32, None),
        (_id(1), None),
        (f"evt_{_id(1)}x", None),
        ("evt_test_" + "0" * 23, None),
    ],
)
def test_event_ids_name_their_transaction(text: str, tx: str | None) -> None:
    assert ev.tx_id_of(text) == tx
