"""What checkout keeps off the chain: the intents merchant servers create.

An intent is the store's until a citizen approves it; from then on the chain's hold (the
`hold` command naming the intent and the merchant's order) says what happened to the
money. The record keeps both what only the store knows (`state`) and the last status
derived from the chain (`status`, `hold`, `captured`, `refunded`), so an intent still
answers after the chain retired its hold record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

#: What only the store knows.
OPEN: Final = "open"
CANCELLED: Final = "cancelled"  # by the merchant, before or after approval
EXPIRED: Final = "expired"  # not approved in time (the expiry job, or seen late)

#: The statuses an intent can have, in the order of its life.
REQUIRES_APPROVAL: Final = "requires_approval"
APPROVED: Final = "approved"  # the money is held for the merchant
CAPTURED: Final = "captured"
PARTIALLY_CAPTURED: Final = "partially_captured"
PARTIALLY_REFUNDED: Final = "partially_refunded"
REFUNDED: Final = "refunded"
STATUSES: Final = (
    REQUIRES_APPROVAL,
    APPROVED,
    CAPTURED,
    PARTIALLY_CAPTURED,
    PARTIALLY_REFUNDED,
    REFUNDED,
    CANCELLED,
    EXPIRED,
)
#: Statuses no later event changes; the others may move on without the store seeing it
#: at once (a hold released by the operator's expiry job, a refund at the counter).
FINAL: Final = frozenset({REFUNDED, CANCELLED, EXPIRED})
MOVING: Final = tuple(s for s in STATUSES if s not in FINAL)


@dataclass(frozen=True)
class IntentRecord:
    city: str
    intent: str  # 32 random hex digits
    merchant: str
    request_key: str  # digest of the merchant's Idempotency-Key: a repeat finds this one
    order: str  # the merchant's own order id
    amount: int
    return_url: str
    description: str
    created_ms: int
    expires_ms: int
    state: str  # OPEN | CANCELLED | EXPIRED
    status: str  # last known, one of STATUSES
    hold: str = ""  # the approving hold's id (= the payment's id once captured)
    captured: int = 0
    refunded: int = 0
    changed_ms: int = 0


@dataclass(frozen=True)
class Snapshot:
    """The status derived from the chain, written back to the record."""

    status: str
    hold: str
    captured: int
    refunded: int


class CheckoutRepository(Protocol):
    def add(self, record: IntentRecord) -> IntentRecord:
        """Record a new intent; if the merchant used its request key already, the intent
        first recorded under it (idempotent)."""
        ...

    def get(self, city: str, intent: str) -> IntentRecord | None: ...

    def of_merchant(
        self,
        city: str,
        merchant: str,
        statuses: tuple[str, ...] | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[IntentRecord]:
        """The merchant's intents, newest first (by created_ms, then id), of these last
        known statuses if given, after the place `after` (created_ms, intent) if given."""
        ...

    def set_state(self, city: str, intent: str, state: str, only_from: str, now_ms: int) -> bool:
        """Move `state` from `only_from` to `state`; False if it was not `only_from`."""
        ...

    def remember(self, city: str, intent: str, snapshot: Snapshot, now_ms: int) -> None:
        """The status last derived from the chain."""
        ...

    def due(self, now_ms: int, limit: int) -> list[IntentRecord]:
        """Open intents never approved whose time ran out by `now_ms`, oldest first."""
        ...
