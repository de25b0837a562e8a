"""The notice outbox on both stores: 30 and 7 days before a lot's validity ends, one
notice each, written once whatever the number of runs, delivered through the channel
(the demo's log channel), a failed delivery retried later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from localpay.adapters.sql.notices import SqlNotices
from localpay.services.jobs.notices import RETRY_FIRST_MS
from localpay.services.jobs.ports import DELIVERED, PENDING, NoticeRecord
from localpay.testing.town import CITY, Town, kst


def _credited(town: Town) -> None:
    town.program("youth", 1_000_000, valid_until="2026-12-31")
    town.wallet("alice")
    town.wallet("bob")
    town.credit("youth", "alice", 120_000)


def _notices(town: Town) -> list[tuple[int, int, str]]:
    found = SqlNotices(town.store).of_wallet(CITY, "alice", 10)
    return [(n.days_before, n.amount, n.status) for n in found]


@pytest.fixture
def default_logging() -> Iterator[None]:
    """structlog's defaults for the test: a server started earlier in the same process
    (`serve --log-level warning`) leaves a filtering logger that drops the channel's info
    lines before any capture sees them."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("default_logging")
def test_notices_30_and_7_days_before_once_each_through_the_log_channel(town: Town) -> None:
    _credited(town)
    scheduler = town.scheduler()
    town.clock.now = kst(2026, 12, 1)  # 31 days before the end: nothing yet
    scheduler.tick()
    assert _notices(town) == []
    town.clock.now = kst(2026, 12, 2)  # exactly 30 days before 2027-01-01 00:00 KST
    with structlog.testing.capture_logs() as logs:
        scheduler.tick()
    assert _notices(town) == [(30, 120_000, DELIVERED)]
    sent = [e for e in logs if e["event"] == "notice"]
    assert [(e["wallet"], e["amount"], e["days_before"], e["last_day"]) for e in sent] == [
        ("alice", 120_000, 30, "2026-12-31")
    ]
    for day in (2, 3, 24):  # later runs, the same day or the next ones: no second notice
        town.clock.now = kst(2026, 12, day, 12)
        scheduler.tick()
        town.jobs().run("notices", CITY, town.clock.now)
    assert _notices(town) == [(30, 120_000, DELIVERED)]
    town.clock.now = kst(2026, 12, 25)  # exactly 7 days before
    scheduler.tick()
    assert _notices(town) == [(7, 120_000, DELIVERED), (30, 120_000, DELIVERED)]
    assert SqlNotices(town.store).of_wallet(CITY, "bob", 10) == []
    assert SqlNotices(town.store).unseen(CITY, "alice") == 2


class Unreachable:
    """A channel whose gateway is down for its first `down` deliveries."""

    name = "flaky"

    def __init__(self, down: int) -> None:
        self.down = down
        self.sent: list[str] = []

    def deliver(self, notice: NoticeRecord) -> None:
        if self.down > 0:
            self.down -= 1
            raise ConnectionError("gateway down")
        self.sent.append(notice.wallet)


def test_a_failed_delivery_is_retried_later_and_delivered_once(town: Town) -> None:
    _credited(town)
    channel = Unreachable(down=1)
    scheduler = town.scheduler(channel)
    town.clock.now = kst(2026, 12, 25)
    scheduler.tick()
    assert _notices(town) == [(7, 120_000, PENDING)]
    town.clock.now += RETRY_FIRST_MS - 1
    scheduler.tick()
    assert channel.sent == []  # not before its retry time
    town.clock.now += 1
    scheduler.tick()
    assert channel.sent == ["alice"]
    assert _notices(town) == [(7, 120_000, DELIVERED)]
    town.clock.now += 10 * RETRY_FIRST_MS
    scheduler.tick()
    assert channel.sent == ["alice"]
