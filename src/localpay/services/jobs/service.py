"""The jobs of a city, by name, as the scheduler and `localpay jobs run` call them.

Each run logs one line: the job, the city, the period it did and what came of it (counts
and result codes, never a key or a citizen's data)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

import structlog

from localpay.domain.calendar import iso_date, month_key
from localpay.domain.errors import Refused
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs import cashback, expiry, holds, lapse, notices, scan
from localpay.services.jobs.ports import Channel, NoticeRepository

JOBS: Final = ("expiry", "lapse", "holds", "cashback", "notices")
#: The jobs that look every minute (the others once per period, recorded as done).
MINUTELY: Final = ("lapse", "holds")

log = structlog.get_logger("localpay.jobs")


class UnknownJob(Refused):
    """No job of that name."""


@dataclass(frozen=True)
class Run:
    """One run of a job: which period it did, and what came of it in one line."""

    job: str
    city: str
    period: str
    line: str
    busy: bool  # it submitted commands or wrote notices


def period_of(job: str, now_ms: int) -> str:
    """The period a run at `now_ms` does: the Korean day (expiry, notices), the month just
    over (cashback), the minute (lapse, holds)."""
    if job == "cashback":
        return cashback.month_label(month_key(now_ms) - 1)
    if job in MINUTELY:
        return str(now_ms // 60_000)
    return iso_date(now_ms)


class Jobs:
    def __init__(self, ledgers: Ledgers, outbox: NoticeRepository, channel: Channel) -> None:
        self.ledgers = ledgers
        self.outbox = outbox
        self.channel = channel
        self._orders: dict[str, lapse.OpenOrders] = {}
        self._open_holds: dict[str, holds.OpenHolds] = {}
        self._lock = threading.Lock()

    def run(self, job: str, city: str, now_ms: int) -> Run:
        if job not in JOBS:
            raise UnknownJob(f"no job {job!r}: one of {', '.join(JOBS)}")
        with self._lock:  # one run at a time: the open orders are this object's
            line, busy = getattr(self, f"_{job}")(city, now_ms)
        done = Run(job, city, period_of(job, now_ms), line, busy)
        # A lapse check every minute that found nothing is not worth a line each.
        (log.info if busy or job not in MINUTELY else log.debug)(
            "job_run", job=job, city=city, period=done.period, result=line
        )
        return done

    def _expiry(self, city: str, now_ms: int) -> tuple[str, bool]:
        tally = expiry.run(self.ledgers, city, now_ms)
        return tally.line(), tally.done + tally.repeated + sum(tally.refused.values()) > 0

    def _lapse(self, city: str, now_ms: int) -> tuple[str, bool]:
        orders = self._orders.get(city)
        if orders is None:
            orders = self._orders[city] = lapse.OpenOrders(self.ledgers.store, city)
        tally = lapse.run(self.ledgers, orders, now_ms)
        line = f"{tally.line()} open={len(orders)}"
        return line, tally.done + tally.repeated + sum(tally.refused.values()) > 0

    def _holds(self, city: str, now_ms: int) -> tuple[str, bool]:
        open_holds = self._open_holds.get(city)
        if open_holds is None:
            open_holds = self._open_holds[city] = holds.OpenHolds(self.ledgers.store, city)
        tally = holds.run(self.ledgers, open_holds, now_ms)
        line = f"{tally.line()} open={len(open_holds)}"
        return line, tally.done + tally.repeated + sum(tally.refused.values()) > 0

    def _cashback(self, city: str, now_ms: int) -> tuple[str, bool]:
        month = month_key(now_ms) - 1
        tally = cashback.run(self.ledgers, city, now_ms, month)
        line = f"month={cashback.month_label(month)} {tally.line()}"
        return line, tally.done + tally.repeated + sum(tally.refused.values()) > 0

    def _notices(self, city: str, now_ms: int) -> tuple[str, bool]:
        found = notices.derive(city, scan.wallets(self.ledgers.store, city), now_ms)
        written = self.outbox.add(city, found, now_ms)
        sent = self.deliver(now_ms)
        line = (
            f"due={len(found)} new={written} delivered={sent.delivered}"
            f" retried={sent.retried} failed={sent.failed} channel={self.channel.name}"
        )
        return line, written > 0 or sent.delivered > 0

    def deliver(self, now_ms: int) -> notices.Delivery:
        """Hand the due notices of every city to the channel (retries included)."""
        return notices.deliver_due(self.outbox, self.channel, now_ms)
