"""What the card service refuses, in the four kinds of domain/errors.py.

The terminals never see these: `CardService.answer` turns every outcome into a response
code. They are for the counter services (API, pages, CLI), whose callers read them."""

from __future__ import annotations

from localpay.domain.errors import Conflict, NotFound, Refused


class CardNotFound(NotFound):
    code = "card_not_found"


class TerminalNotFound(NotFound):
    code = "terminal_not_found"


class NotCounterStaff(NotFound):
    """Another city's (or a non-official's) request: as if the thing did not exist."""

    code = "not_found"


class BadCardInput(Refused):
    code = "bad_card_input"


class BadPin(Refused):
    """A PIN that is not 4 to 6 digits, or a wrong one at the counter."""

    code = "bad_pin"


class PinLocked(Refused):
    code = "pin_locked"


class CardNotActive(Conflict):
    """A lost, blocked or replaced card cannot be changed back or topped up."""

    code = "card_not_active"


class TerminalTaken(Conflict):
    code = "terminal_taken"


class IdempotencyKeyReused(Conflict):
    """The same idempotency key with a different request."""

    code = "idempotency_key_reused"


class LedgerRefused(Refused):
    """The ledger refused a counter command (its code in `code`)."""

    def __init__(self, what: str, code: str) -> None:
        super().__init__(f"{what}: the ledger answered {code}")
        self.code = code
