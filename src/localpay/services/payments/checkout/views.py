"""An intent as its merchant and the approval page see it: amounts and status, never the
citizen's wallet or balances (the wallet's own receipt shows those)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntentView:
    id: str
    city: str
    merchant: str
    order: str
    amount: int
    description: str
    return_url: str
    status: str  # one of ports.STATUSES
    created_ms: int
    expires_ms: int
    hold: str  # "" until approved; then the hold's id, the payment's id once captured
    held: int  # held for the merchant now (0 once captured, released or before approval)
    captured: int
    refunded: int

    @property
    def pending(self) -> bool:
        """Still waiting for the citizen's approval."""
        return self.status == "requires_approval"


@dataclass(frozen=True)
class Approval:
    """The answer to an approval: the intent after it and where the citizen goes back to
    the shop (the return URL with `intent` and `status`)."""

    intent: IntentView
    receipt_code: str
    redirect: str
