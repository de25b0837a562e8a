"""Online checkout: a merchant's server creates an intent, the citizen approves it in the
wallet by signing a hold that names the intent and the merchant's order, the merchant
captures (in full or in part), cancels or refunds.

What the citizen signs binds the order: the hold names the merchant, the amount, the
intent and the order id, and this service checks all four against the intent before the
ledger sees it; the ledger holds one intent at most once in the city (`intent_used`).
Capture, cancel and refund are signed here with the merchant's custodial key. Their
command ids are derived from the merchant, the intent and the request's Idempotency-Key
(a cancel's from the intent alone: there is only one), so a retry is the same command
and the ledger answers it with the first receipt.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.commands import DecodeError, command_type, decode_envelope
from localpay.domain.errors import Refused
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import HoldRecord, Payment
from localpay.services.approvals.service import merchant_key
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers, MissingKey
from localpay.services.payments.checkout import errors as e
from localpay.services.payments.checkout import ports as p
from localpay.services.payments.checkout.ports import CheckoutRepository, IntentRecord, Snapshot
from localpay.services.payments.checkout.rules import back_to_shop, checked
from localpay.services.payments.checkout.status import derive
from localpay.services.payments.checkout.views import Approval, IntentView

T = TypeVar("T")

#: The fields of a hold a checkout approval leaves at their defaults (a card's).
CARD_FIELDS = ("card", "terminal", "stan", "rrn")


def request_digest(merchant: str, key: str) -> str:
    """What the store keeps of a create's Idempotency-Key."""
    return hashlib.sha256(f"{merchant}\n{key}".encode()).hexdigest()


class Checkout:
    def __init__(
        self,
        ledgers: Ledgers,
        store: Store,
        repo: CheckoutRepository,
        clock: Callable[[], int],
    ) -> None:
        self.ledgers = ledgers
        self.store = store
        self.repo = repo
        self.clock = clock

    # -- create and read -------------------------------------------------------------------

    def create(
        self,
        city: str,
        merchant: str,
        key: str,
        amount: object,
        order: str,
        return_url: str,
        expires_in_s: int | None = None,
        description: str = "",
    ) -> IntentView:
        """A new intent waiting for approval (the same one again for a repeated `key`)."""
        new = checked(amount, order, return_url, expires_in_s, description)
        now = self.clock()
        record = IntentRecord(
            city=city,
            intent=secrets.token_hex(16),
            merchant=merchant,
            request_key=request_digest(merchant, key),
            order=new.order,
            amount=new.amount,
            return_url=new.return_url,
            description=new.description,
            created_ms=now,
            expires_ms=now + new.expires_in_s * 1000,
            state=p.OPEN,
            status=p.REQUIRES_APPROVAL,
            changed_ms=now,
        )
        return self._view(self.repo.add(record))

    def intent(self, city: str, intent: str, merchant: str | None = None) -> IntentView:
        """The intent; for `merchant`, only its own (another's is not found)."""
        return self._view(self._record(city, intent, merchant))

    def intents(
        self,
        city: str,
        merchant: str,
        status: str | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> tuple[list[IntentView], tuple[int, str] | None]:
        """The merchant's intents, newest first, `status` as it is now; and the place to
        go on from (None: no more). The store keeps each intent's last known status, so
        the page reads those of `status` and those whose status may have moved on since,
        and brings each up to date as it is read."""
        wanted = None if status is None else tuple(dict.fromkeys((status, *p.MOVING)))
        records = self.repo.of_merchant(city, merchant, wanted, after, limit)
        views = [self._view(r) for r in records]
        last = records[-1] if len(records) == limit else None
        following = (last.created_ms, last.intent) if last is not None else None
        return [v for v in views if status is None or v.status == status], following

    def approver(self, view: IntentView) -> str | None:
        """The wallet whose hold approved the intent, while the chain keeps the hold: for
        the wallet's own receipt link, never for the merchant."""
        hold = _entity(self.store, view.city, f"h:{view.hold}", HoldRecord) if view.hold else None
        return hold.wallet if hold is not None else None

    # -- the citizen's approval ------------------------------------------------------------

    def approve(self, city: str, intent: str, envelope: bytes) -> tuple[Receipt, Approval]:
        """The citizen's signed hold for the intent, checked against it, then the ledger's
        answer. A refused hold (intent_used, insufficient_funds, ...) is a receipt."""
        record = self._record(city, intent)
        hold = _hold_of(envelope, city)
        _matches(hold, record)
        before = self._view(record)
        if before.status == p.CANCELLED:
            raise e.IntentCancelled("the shop cancelled this order")
        if before.status == p.EXPIRED:
            raise e.IntentExpired("this order was not approved in time")
        receipt = self.ledgers.execute(city, envelope)
        if receipt.ok:
            self.repo.remember(city, intent, Snapshot(p.APPROVED, hold.id, 0, 0), self.clock())
            self._cancelled_meanwhile(city, record.intent)
        after = self.intent(city, intent)
        status = p.APPROVED if receipt.ok else after.status
        redirect = back_to_shop(record.return_url, intent, status)
        return receipt, Approval(after, receipt.code, redirect)

    def _cancelled_meanwhile(self, city: str, intent: str) -> None:
        """The merchant cancelled while the hold was on its way: give the money back."""
        record = self._record(city, intent)
        if record.state == p.CANCELLED:
            self._release(record, self._view(record))

    # -- the merchant's capture, cancel, refund --------------------------------------------

    def capture(
        self, city: str, merchant: str, intent: str, amount: int | None, key: str
    ) -> tuple[Receipt, IntentView]:
        """Capture `amount` (all when None) of the held money; the rest goes back to the
        wallet at once."""
        record = self._record(city, intent, merchant)
        view = self._held(record)
        command = c.Capture(
            id=self._id(record, "capture", key),
            city=city,
            hold=view.hold,
            wallet=self._hold(city, view.hold).wallet,
            merchant=merchant,
            amount=view.amount if amount is None else amount,
        )
        return self._signed(record, command)

    def cancel(self, city: str, merchant: str, intent: str) -> tuple[Receipt | None, IntentView]:
        """Before approval: the intent can no longer be approved. After: the held money
        goes back to the wallet. Again: the same answer."""
        record = self._record(city, intent, merchant)
        view = self._view(record)
        if view.status in (p.CANCELLED,):
            return None, view
        if view.status == p.EXPIRED:
            raise e.IntentExpired("the intent expired: there is nothing to cancel")
        if view.status not in (p.REQUIRES_APPROVAL, p.APPROVED):
            raise e.IntentCaptured("the money was captured: refund it instead")
        self.repo.set_state(city, intent, p.CANCELLED, p.OPEN, self.clock())
        record = self._record(city, intent, merchant)
        view = self._view(record)  # a hold may have landed in between: then it is released
        if view.status != p.APPROVED:
            return None, view
        return self._release(record, view), self.intent(city, intent)

    def refund(
        self, city: str, merchant: str, intent: str, amount: int, key: str
    ) -> tuple[Receipt, IntentView]:
        """Refund `amount` of the captured money to the wallet's original lots."""
        record = self._record(city, intent, merchant)
        view = self._view(record)
        if view.captured == 0:
            raise e.IntentNotCaptured("nothing of this intent was captured")
        command = c.Refund(
            id=self._id(record, "refund", key),
            city=city,
            merchant=merchant,
            payment=view.hold,
            amount=amount,
        )
        return self._signed(record, command)

    # -- the expiry job --------------------------------------------------------------------

    def expire_due(self, now_ms: int, limit: int = 500) -> int:
        """Mark open intents never approved in time expired (store only); how many."""
        done = 0
        for record in self.repo.due(now_ms, limit):
            if self._hold_id(record):  # approved after all (an answer lost on the way)
                self._view(record)
                continue
            if self.repo.set_state(record.city, record.intent, p.EXPIRED, p.OPEN, now_ms):
                expired = Snapshot(p.EXPIRED, "", 0, 0)
                self.repo.remember(record.city, record.intent, expired, now_ms)
                done += 1
        return done

    # -- helpers ---------------------------------------------------------------------------

    def _record(self, city: str, intent: str, merchant: str | None = None) -> IntentRecord:
        found = self.repo.get(city, intent) if _intent_id(intent) else None
        if found is None or (merchant is not None and found.merchant != merchant):
            raise e.IntentNotFound(f"no checkout intent {intent!r} here")
        return found

    def _held(self, record: IntentRecord) -> IntentView:
        """The intent's view if its money is held now; else why not."""
        view = self._view(record)
        if record.state == p.CANCELLED:
            raise e.IntentCancelled("the intent was cancelled")
        if view.status == p.EXPIRED:
            raise e.IntentExpired("the intent expired")
        if not view.hold:
            raise e.IntentNotApproved("the citizen has not approved this intent yet")
        return view

    def _id(self, record: IntentRecord, purpose: str, key: str) -> str:
        principal = f"merchant:{record.merchant}"
        return derived_id(record.city, principal, f"checkout/{purpose}/{record.intent}", key)

    def _release(self, record: IntentRecord, view: IntentView) -> Receipt:
        command = c.Release(
            id=self._id(record, "cancel", ""),
            city=record.city,
            hold=view.hold,
            wallet=self._hold(record.city, view.hold).wallet,
            merchant=record.merchant,
        )
        return self._signed(record, command)[0]

    def _signed(self, record: IntentRecord, command: c.Command) -> tuple[Receipt, IntentView]:
        try:
            key = merchant_key(self.ledgers, record.city, record.merchant)
        except MissingKey as exc:
            raise e.SignerUnavailable(str(exc)) from None
        receipt = self.ledgers.execute(record.city, sign_command(command, [key]))
        return receipt, self.intent(record.city, record.intent)

    def _hold_id(self, record: IntentRecord) -> str:
        """The approving hold's id: the store's, else the chain's (an approval whose answer
        never reached the store)."""
        if record.hold:
            return record.hold
        running = self.ledgers.running_sequencer(record.city)
        found = running.state.intents.get(record.intent) if running is not None else None
        return found or ""

    def _hold(self, city: str, hold: str) -> HoldRecord:
        found = _entity(self.store, city, f"h:{hold}", HoldRecord)
        if found is None:  # retired: only a long-closed hold, which takes no more commands
            raise Refused(f"{Code.HOLD_NOT_FOUND.value}: the hold {hold} is closed and gone")
        return found

    def _view(self, record: IntentRecord) -> IntentView:
        """The intent now; the store learns the status if it changed."""
        hold_id = self._hold_id(record)
        hold = _entity(self.store, record.city, f"h:{hold_id}", HoldRecord) if hold_id else None
        if hold is not None and not _approves(hold, record):
            # A hold naming the intent that did not come through `approve` (the generic
            # holds route) with another shop, amount or order: not this intent's approval.
            hold = None
        payment = _entity(self.store, record.city, f"x:{hold.id}", Payment) if hold else None
        now = self.clock()
        snap = derive(record, hold, payment, now)
        known = Snapshot(record.status, record.hold, record.captured, record.refunded)
        if snap != known:
            self.repo.remember(record.city, record.intent, snap, now)
        held = hold.amount if hold is not None and snap.status == p.APPROVED else 0
        return IntentView(
            id=record.intent,
            city=record.city,
            merchant=record.merchant,
            order=record.order,
            amount=record.amount,
            description=record.description,
            return_url=record.return_url,
            status=snap.status,
            created_ms=record.created_ms,
            expires_ms=record.expires_ms,
            hold=snap.hold,
            held=held,
            captured=snap.captured,
            refunded=snap.refunded,
        )


def _intent_id(intent: str) -> bool:
    return len(intent) == 32 and all(ch in "0123456789abcdef" for ch in intent)


def _entity(store: Store, city: str, key: str, kind: type[T]) -> T | None:
    raw = store.state_value(city, key)
    return None if raw is None else msgspec.json.decode(raw, type=kind)


def _hold_of(envelope: bytes, city: str) -> c.Hold:
    try:
        _, command = decode_envelope(envelope)
    except DecodeError as exc:
        raise e.UnreadableHold(exc.code, str(exc)) from None
    if not isinstance(command, c.Hold):
        raise e.HoldMismatch(f"expected a hold, got {command_type(command)}")
    if command.city != city:
        raise e.UnreadableHold(Code.WRONG_CITY.value, f"the hold is for {command.city!r}")
    return command


def _approves(hold: HoldRecord, record: IntentRecord) -> bool:
    """Does the chain's hold approve this intent: its merchant, amount and order?"""
    expected = (record.intent, record.merchant, record.amount, record.order)
    return (hold.intent, hold.merchant, hold.amount, hold.order) == expected and not hold.card


def _matches(hold: c.Hold, record: IntentRecord) -> None:
    """The hold names this intent's merchant, amount, intent and order, and nothing of a
    card's; else HoldMismatch naming the first field that differs."""
    expected = {
        "intent": record.intent,
        "merchant": record.merchant,
        "amount": record.amount,
        "order": record.order,
    }
    for field, value in expected.items():
        if getattr(hold, field) != value:
            raise e.HoldMismatch(f"the hold's {field} is not the intent's")
    if any(getattr(hold, field) for field in CARD_FIELDS) or hold.capture:
        raise e.HoldMismatch("a checkout hold names no card and is not captured at once")
