"""What the jobs need besides the ledger: the record of the periods each job has done,
the notice outbox, and the channel that delivers a notice to a citizen.

The outbox rows are structural (`NoticeRecord` is a Protocol): the SQL adapter returns
its own frozen records, and neither side imports the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: A notice's delivery: waiting (or waiting to be retried), delivered, given up.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class NewNotice:
    """A notice derived from the state: `amount` won of `lot` in `wallet` expires at
    `expires_ms`, `days_before` (30 or 7) days or less from now."""

    id: str
    wallet: str
    lot: str
    days_before: int
    program: str
    amount: int
    expires_ms: int


class NoticeRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def wallet(self) -> str: ...
    @property
    def lot(self) -> str: ...
    @property
    def days_before(self) -> int: ...
    @property
    def program(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def expires_ms(self) -> int: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def seen_ms(self) -> int | None: ...


class RunLog(Protocol):
    def done(self, city: str, job: str, period: str) -> bool: ...

    def record(self, city: str, job: str, period: str, done_ms: int, summary: str) -> None:
        """Mark the period done (a second record of the same period changes nothing)."""
        ...


class NoticeRepository(Protocol):
    def add(self, city: str, notices: Sequence[NewNotice], now_ms: int) -> int:
        """Write the notices not written before (by wallet, lot and days); how many new."""
        ...

    def due(self, now_ms: int, limit: int) -> Sequence[NoticeRecord]:
        """Pending notices whose (next) delivery attempt is due, oldest first."""
        ...

    def delivered(self, city: str, notice: str, now_ms: int) -> None: ...

    def retry(
        self, city: str, notice: str, attempts: int, next_ms: int, error: str, status: str
    ) -> None:
        """Count a failed attempt: try again at `next_ms`, or `status` FAILED for good."""
        ...

    def of_wallet(self, city: str, wallet: str, limit: int) -> Sequence[NoticeRecord]:
        """A wallet's notices, newest first."""
        ...

    def unseen(self, city: str, wallet: str) -> int: ...

    def mark_seen(self, city: str, wallet: str, now_ms: int) -> None: ...


class Channel(Protocol):
    """Delivers a notice to its citizen (a push message, a text, ...): raises on failure,
    and the outbox retries. Given wallet ids and amounts only, never personal data."""

    name: str

    def deliver(self, notice: NoticeRecord) -> None: ...
