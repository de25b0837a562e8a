"""A merchant's events, derived from the committed chain: no service writes them.

Each applied transaction at a merchant is at most one event, whose id is `evt_<tx id>`:
the same event always has the same id (a replay, a retry, a restart), so a receiver
deduplicates on the `webhook-id` header. Refused transactions are no events.

Pure: the caller gives the stored transaction, its block's time and `origin`, which finds
the applied command a capture, release or refund names (the hold or the payment), to say
which channel it belongs to (a checkout's intent and order, a card's terminal).

No personal data, and no wallet id: the merchant needs none (the ids are pseudonymous,
still the shop has no use for them). Amounts are whole won."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from localpay.domain import commands as c
from localpay.domain.commands import DecodeError, decode_envelope
from localpay.domain.limits import HOLD_MS_MAX
from localpay.ledger.blocks import TxRecord

CHECKOUT_APPROVED: Final = "checkout.approved"
CHECKOUT_CAPTURED: Final = "checkout.captured"
CHECKOUT_CANCELLED: Final = "checkout.cancelled"
PAYMENT_SUCCEEDED: Final = "payment.succeeded"
PAYMENT_REFUNDED: Final = "payment.refunded"
CARD_AUTHORIZED: Final = "card.authorized"
CARD_CAPTURED: Final = "card.captured"
CARD_REVERSED: Final = "card.reversed"
PAYOUT_SENT: Final = "payout.sent"
PAYOUT_PAID: Final = "payout.paid"
PAYOUT_RETURNED: Final = "payout.returned"
#: Sent on request only (the test ping), never derived from the chain.
WEBHOOK_TEST: Final = "webhook.test"

EVENT_TYPES: Final = (
    CHECKOUT_APPROVED,
    CHECKOUT_CAPTURED,
    CHECKOUT_CANCELLED,
    PAYMENT_SUCCEEDED,
    PAYMENT_REFUNDED,
    CARD_AUTHORIZED,
    CARD_CAPTURED,
    CARD_REVERSED,
    PAYOUT_SENT,
    PAYOUT_PAID,
    PAYOUT_RETURNED,
)

#: The command kinds that can make an event: others are skipped before decoding.
KINDS: Final = frozenset(
    {"pay", "claim_code", "hold", "capture", "release", "refund", "payout", "settle_payout"}
    | {"return_payout"}
)

#: The applied command of an id (a hold, a payment), or None if the chain has none.
Origin = Callable[[str], c.Command | None]


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    merchant: str
    seq: int
    height: int
    time_ms: int
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The body per the Standard Webhooks payload structure (type, timestamp, data)."""
        return {"type": self.type, "id": self.id, "timestamp": iso(self.time_ms), "data": self.data}

    def body(self) -> bytes:
        """The exact bytes sent and signed: the same event is always the same bytes."""
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()


def iso(time_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. 2026-12-01T01:02:03.456Z."""
    moment = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def event_id(tx_id: str) -> str:
    return f"evt_{tx_id}"


def tx_id_of(event: str) -> str | None:
    """The transaction id inside an event id, or None if it is not one of ours."""
    rest = event.removeprefix("evt_")
    if rest == event or len(rest) != 32 or any(ch not in "0123456789abcdef" for ch in rest):
        return None
    return rest


def event_of(tx: TxRecord, time_ms: int, origin: Origin) -> Event | None:
    """The event a stored transaction is, or None (not applied, not a merchant's)."""
    if tx.kind not in KINDS or not tx.decoded_result().ok:
        return None
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return None
    found = typed(command, time_ms, origin)
    if found is None:
        return None
    kind, merchant, data = found
    return Event(event_id(tx.id), kind, merchant, tx.seq, tx.height, time_ms, data)


Typed = tuple[str, str, dict[str, Any]]


def typed(command: c.Command, time_ms: int, origin: Origin) -> Typed | None:
    """(type, merchant, data) of an applied command, or None if it is no event."""
    if isinstance(command, c.Pay):
        data = {"payment": command.id, "amount": command.amount, "channel": "pay"}
        return PAYMENT_SUCCEEDED, command.merchant, _at(command.merchant, data)
    if isinstance(command, c.ClaimCode):
        data = {"payment": command.id, "amount": command.amount, "channel": "code"}
        return PAYMENT_SUCCEEDED, command.merchant, _at(command.merchant, data)
    if isinstance(command, c.Hold):
        return _hold(command, time_ms)
    if isinstance(command, c.Capture):
        return _capture(command, origin(command.hold))
    if isinstance(command, c.Release):
        return _release(command, origin(command.hold))
    if isinstance(command, c.Refund):
        return _refund(command, origin(command.payment))
    if isinstance(command, c.Payout | c.SettlePayout | c.ReturnPayout):
        return _payout(command, origin)
    return None


def _payout(command: c.Payout | c.SettlePayout | c.ReturnPayout, origin: Origin) -> Typed | None:
    """A shop's payout to its bank account: sent (in transit), paid (the bank booked it),
    returned (refused, or sent back after booking, with the bank's reason code)."""
    if isinstance(command, c.Payout):
        data = {"payout": command.id, "amount": command.amount}
        return PAYOUT_SENT, command.merchant, _at(command.merchant, data)
    sent = origin(command.payout)
    if not command.merchant or not isinstance(sent, c.Payout):
        return None  # a citizen's refund: no shop's event
    data = {"payout": command.payout, "amount": sent.amount}
    if isinstance(command, c.SettlePayout):
        return (
            PAYOUT_PAID,
            command.merchant,
            _at(command.merchant, data | {"bank_ref": command.bank_ref}),
        )
    data |= {"reason": command.reason, "after_booking": bool(command.bank_ref)}
    return PAYOUT_RETURNED, command.merchant, _at(command.merchant, data)


def _at(merchant: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"merchant": merchant, **data}


def _channel(hold: c.Hold) -> dict[str, Any]:
    """What names the hold in the merchant's own systems: the checkout's intent and
    order, or the card terminal's message numbers."""
    if hold.card:
        return {"channel": "card", "terminal": hold.terminal, "stan": hold.stan, "rrn": hold.rrn}
    return {"channel": "checkout", "intent": hold.intent, "order": hold.order}


def _hold(hold: c.Hold, time_ms: int) -> Typed | None:
    if hold.capture:  # a purchase captured at once: a payment, with its channel's names
        data = {"payment": hold.id, "amount": hold.amount, **_channel(hold)}
        return PAYMENT_SUCCEEDED, hold.merchant, _at(hold.merchant, data)
    if not hold.card and not hold.intent:
        return None  # the ledger refuses such a hold (hold_invalid): never applied
    data = {"hold": hold.id, "amount": hold.amount, **_channel(hold)}
    # Held from its block's time; the jobs give it back after HOLD_MS_MAX unless captured.
    data["expires_at"] = iso(time_ms + HOLD_MS_MAX)
    kind = CARD_AUTHORIZED if hold.card else CHECKOUT_APPROVED
    return kind, hold.merchant, _at(hold.merchant, data)


def _capture(capture: c.Capture, held: c.Command | None) -> Typed | None:
    if not isinstance(held, c.Hold):
        return None
    data = {
        "hold": capture.hold,
        "payment": capture.hold,  # refunds name the hold's id
        "amount": capture.amount,
        "held": held.amount,
        **_channel(held),
    }
    kind = CARD_CAPTURED if held.card else CHECKOUT_CAPTURED
    return kind, capture.merchant, _at(capture.merchant, data)


def _release(release: c.Release, held: c.Command | None) -> Typed | None:
    # A release of a hold never applied (a reversal that overtook its original) voids
    # the id: no money moved, and the merchant never heard of that hold.
    if not isinstance(held, c.Hold):
        return None
    data = {"hold": release.hold, "amount": held.amount, **_channel(held)}
    kind = CARD_REVERSED if held.card else CHECKOUT_CANCELLED
    return kind, release.merchant, _at(release.merchant, data)


def _refund(refund: c.Refund, paid: c.Command | None) -> Typed:
    data: dict[str, Any] = {"refund": refund.id, "payment": refund.payment, "amount": refund.amount}
    if isinstance(paid, c.Hold):
        data |= _channel(paid)
    elif isinstance(paid, c.ClaimCode):
        data["channel"] = "code"
    else:
        data["channel"] = "pay"
    return PAYMENT_REFUNDED, refund.merchant, _at(refund.merchant, data)
