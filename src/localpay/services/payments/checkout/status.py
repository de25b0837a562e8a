"""An intent's status: from the chain where the chain knows it, else from the store.

Pure. The chain knows everything from the approval on: the hold naming the intent (held,
captured, released) and, once captured, the payment record with the hold's id (what was
refunded). The store knows what happened before (nothing yet, cancelled by the merchant,
not approved in time) and the last status it saw on the chain, which answers once the
chain retired an old hold's record.
"""

from __future__ import annotations

from localpay.ledger.state import CAPTURED as HOLD_CAPTURED
from localpay.ledger.state import HELD, HoldRecord, Payment
from localpay.services.payments.checkout import ports as p
from localpay.services.payments.checkout.ports import IntentRecord, Snapshot


def derive(
    record: IntentRecord, hold: HoldRecord | None, payment: Payment | None, now_ms: int
) -> Snapshot:
    if hold is None:
        return _before_approval(record, now_ms)
    if hold.status == HELD:
        return Snapshot(p.APPROVED, hold.id, 0, 0)
    if hold.status == HOLD_CAPTURED:
        refunded = payment.refunded if payment is not None else record.refunded
        status = _captured(hold.amount, hold.captured, refunded)
        return Snapshot(status, hold.id, hold.captured, refunded)
    # Released (or a card's reversal, which a checkout hold never has): given back. The
    # merchant's cancel says so in the store; otherwise the hold ran out (the operator's
    # release of an expired hold).
    lapsed = record.state != p.CANCELLED and now_ms >= hold.expires_ms
    return Snapshot(p.EXPIRED if lapsed else p.CANCELLED, hold.id, 0, 0)


def _before_approval(record: IntentRecord, now_ms: int) -> Snapshot:
    if record.hold:  # the chain knew a hold once and retired it: its last status stands
        return Snapshot(record.status, record.hold, record.captured, record.refunded)
    if record.state == p.CANCELLED:
        return Snapshot(p.CANCELLED, "", 0, 0)
    if record.state == p.EXPIRED or now_ms >= record.expires_ms:
        return Snapshot(p.EXPIRED, "", 0, 0)
    return Snapshot(p.REQUIRES_APPROVAL, "", 0, 0)


def _captured(held: int, captured: int, refunded: int) -> str:
    if refunded >= captured:
        return p.REFUNDED
    if refunded > 0:
        return p.PARTIALLY_REFUNDED
    return p.PARTIALLY_CAPTURED if captured < held else p.CAPTURED
