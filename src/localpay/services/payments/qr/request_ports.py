"""What the dynamic QR's payment requests keep (adapters/sql/qr_requests.py, migration 0015)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: A request as the store gives it (adapters import no services: a plain tuple): city,
#: reference, merchant, amount, idem_key, created_ms, expires_ms, command, claimed_ms, paid_ms.
RequestRow = tuple[str, str, str, int, str, int, int, str, int, int]


@dataclass(frozen=True)
class StoredRequest:
    """A payment request as stored. `command` is the id of the Pay claimed for it ("" while
    nobody claimed it); `paid_ms` is set once the ledger applied that Pay."""

    city: str
    reference: str
    merchant: str
    amount: int
    idem_key: str
    created_ms: int
    expires_ms: int
    command: str
    claimed_ms: int
    paid_ms: int

    @classmethod
    def of(cls, row: RequestRow) -> StoredRequest:
        return cls(*row)


class QrRequestRepository(Protocol):
    def create(self, row: RequestRow) -> RequestRow:
        """Insert the request, unless its (city, merchant, idem_key) is taken: then the
        request made first with that key, as stored."""
        ...

    def get(self, city: str, reference: str) -> RequestRow | None: ...

    def claim(self, city: str, reference: str, command: str, expected: str, now_ms: int) -> bool:
        """Record `command` as the Pay of the request if its claim is still `expected` ("" for
        none) and it is not paid: one atomic compare-and-set; False if someone else won."""
        ...

    def release(self, city: str, reference: str, command: str) -> None:
        """Forget `command`'s claim (the ledger refused it): the request is payable again."""
        ...

    def mark_paid(self, city: str, reference: str, command: str, now_ms: int) -> None:
        """The claimed command was applied by the ledger."""
        ...
