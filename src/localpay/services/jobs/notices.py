"""The notice outbox: citizens are told 30 and 7 days before their money expires.

Derived from the state once a day (scan.py): every lot whose validity ends within 30 days
(but more than 7) gets its 30-day notice, within 7 days its 7-day notice; one per
(wallet, lot, 30|7), written once whatever the number of runs (the outbox's unique key).
A lot credited with less than 30 days left gets only the notices still ahead of it.
Then each pending notice is handed to the channel; a failure is counted and retried
later (backing off), up to MAX_ATTEMPTS. Wallet ids, lot ids and amounts only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import structlog

from localpay.domain.calendar import DAY_MS, iso_date
from localpay.ledger.state import Wallet
from localpay.services.cities.command_ids import derived_id
from localpay.services.jobs.ports import (
    FAILED,
    Channel,
    NewNotice,
    NoticeRecord,
    NoticeRepository,
)

#: How many days before the end of a lot's validity its notices go out, furthest first.
DAYS_BEFORE: Final = (30, 7)
#: Delivery attempts before a notice is given up (status failed; the wallet still shows it).
MAX_ATTEMPTS: Final = 8
#: The first retry waits a minute, each next one twice as long, at most six hours.
RETRY_FIRST_MS: Final = 60_000
RETRY_MAX_MS: Final = 6 * 3600 * 1000
#: Notices handed to the channel per round.
BATCH: Final = 500

log = structlog.get_logger("localpay.jobs")


def days_notice(expires_ms: int, now_ms: int) -> int | None:
    """Which notice is due for a lot ending at `expires_ms`: 7, 30 or None."""
    left = expires_ms - now_ms
    if left <= 0:
        return None
    for days in reversed(DAYS_BEFORE):
        if left <= days * DAY_MS:
            return days
    return None


def derive(city: str, wallets: Iterable[Wallet], now_ms: int) -> list[NewNotice]:
    found = []
    for wallet in wallets:
        for lot in wallet.lots:
            days = days_notice(lot.expires_ms, now_ms)
            if days is None or lot.amount <= 0:
                continue
            ident = derived_id(city, wallet.id, "notice", f"{lot.id}:{days}")
            found.append(
                NewNotice(ident, wallet.id, lot.id, days, lot.program, lot.amount, lot.expires_ms)
            )
    return found


def retry_after_ms(attempts: int) -> int:
    return min(RETRY_FIRST_MS << max(attempts - 1, 0), RETRY_MAX_MS)


@dataclass(frozen=True)
class Delivery:
    delivered: int
    retried: int
    failed: int


class LogChannel:
    """The demo's channel: one log line per notice (wallet id, amount, last day)."""

    name = "log"

    def deliver(self, notice: NoticeRecord) -> None:
        # The logger looked up at each delivery, not the module's: a logger cached on first
        # use (the server's logging setup) would keep its processors for ever, so a test's
        # (or an operator's) later capture of this channel would see nothing.
        structlog.get_logger("localpay.jobs").info(
            "notice",
            city=notice.city,
            wallet=notice.wallet,
            days_before=notice.days_before,
            program=notice.program,
            amount=notice.amount,
            last_day=iso_date(notice.expires_ms - 1),
        )


def deliver_due(repo: NoticeRepository, channel: Channel, now_ms: int) -> Delivery:
    """Hand every due notice to the channel once; count what became of them."""
    delivered = retried = failed = 0
    for notice in repo.due(now_ms, BATCH):
        try:
            channel.deliver(notice)
        except Exception as exc:  # any channel failure is retried, never fatal
            attempts = notice.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                failed += 1
                repo.retry(notice.city, notice.id, attempts, now_ms, type(exc).__name__, FAILED)
            else:
                retried += 1
                again = now_ms + retry_after_ms(attempts)
                repo.retry(notice.city, notice.id, attempts, again, type(exc).__name__, "pending")
            continue
        delivered += 1
        repo.delivered(notice.city, notice.id, now_ms)
    return Delivery(delivered, retried, failed)
