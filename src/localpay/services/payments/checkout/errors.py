"""Why checkout refuses a request, each with its own code (the API's problem `code`, the
pages' plain words). The ledger's own refusals (intent_used, hold_closed,
capture_exceeds_hold, insufficient_funds, ...) are receipts, not these."""

from __future__ import annotations

from localpay.domain.errors import Conflict, NotFound, Refused, Unavailable


class IntentNotFound(NotFound):
    """No such intent of this merchant (or city): another merchant's is not found either."""

    code = "intent_not_found"


class IntentInvalid(Refused):
    """A field of a new intent is not acceptable; `field` names it."""

    code = "intent_invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class IntentExpired(Conflict):
    """The intent was not approved in time."""

    code = "intent_expired"


class IntentCancelled(Conflict):
    """The merchant cancelled the intent."""

    code = "intent_cancelled"


class IntentNotApproved(Conflict):
    """Capture or cancel after approval needs a held amount; refund needs a capture."""

    code = "intent_not_approved"


class IntentCaptured(Conflict):
    """A cancel of an intent whose money was captured: refund it instead."""

    code = "intent_captured"


class IntentNotCaptured(Conflict):
    """A refund of an intent whose money was never captured."""

    code = "intent_not_captured"


class HoldMismatch(Refused):
    """The signed hold does not name this intent's merchant, amount, intent and order."""

    code = "hold_mismatch"


class UnreadableHold(Refused):
    """The approval's body is not a signed command for this city: `code` is the ledger's
    own (malformed, not_canonical, wrong_city)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SignerUnavailable(Unavailable):
    """This server holds no custodial key for the merchant: it cannot capture, cancel or
    refund for it now (the operator is alerted)."""

    code = "merchant_key_missing"
