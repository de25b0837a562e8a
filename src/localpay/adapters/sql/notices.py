"""The jobs' tables (services/jobs/ports.py): the periods each job has done, and the
notice outbox, in job_runs and notices (migration 0013)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.services.jobs.ports import NewNotice


@dataclass(frozen=True)
class StoredNotice:
    city: str
    id: str
    wallet: str
    lot: str
    days_before: int
    program: str
    amount: int
    expires_ms: int
    created_ms: int
    status: str
    attempts: int
    seen_ms: int | None


_COLUMNS: Final = (
    "city, id, wallet, lot, days_before, program, amount, expires_ms, created_ms, status,"
    " attempts, seen_ms"
)
_RUN_DONE: Final = "SELECT 1 FROM job_runs WHERE city = ? AND job = ? AND period = ?"
_RUN_RECORD: Final = (
    "INSERT INTO job_runs (city, job, period, done_ms, summary) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (city, job, period) DO NOTHING"
)
_ADD: Final = (
    "INSERT INTO notices (city, id, wallet, lot, days_before, program, amount, expires_ms,"
    " created_ms, status, attempts, next_ms, last_error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '') ON CONFLICT DO NOTHING"
)
_COUNT: Final = "SELECT COUNT(*) FROM notices WHERE city = ?"
_DUE: Final = (
    f"SELECT {_COLUMNS} FROM notices WHERE status = 'pending' AND next_ms <= ?"
    " ORDER BY next_ms, city, id LIMIT ?"
)
_DELIVERED: Final = (
    "UPDATE notices SET status = 'delivered', delivered_ms = ?, attempts = attempts + 1"
    " WHERE city = ? AND id = ? AND status = 'pending'"
)
_RETRY: Final = (
    "UPDATE notices SET attempts = ?, next_ms = ?, last_error = ?, status = ?"
    " WHERE city = ? AND id = ? AND status = 'pending'"
)
_OF_WALLET: Final = (
    f"SELECT {_COLUMNS} FROM notices WHERE city = ? AND wallet = ?"
    " ORDER BY created_ms DESC, expires_ms, id LIMIT ?"
)
_UNSEEN: Final = "SELECT COUNT(*) FROM notices WHERE city = ? AND wallet = ? AND seen_ms IS NULL"
_MARK_SEEN: Final = (
    "UPDATE notices SET seen_ms = ? WHERE city = ? AND wallet = ? AND seen_ms IS NULL"
)


def _notice(row: Row) -> StoredNotice:
    city, ident, wallet, lot, days, program, amount, expires, created, status, tries, seen = row
    return StoredNotice(
        str(city),
        str(ident),
        str(wallet),
        str(lot),
        int(days),
        str(program),
        int(amount),
        int(expires),
        int(created),
        str(status),
        int(tries),
        None if seen is None else int(seen),
    )


class SqlJobRuns:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def done(self, city: str, job: str, period: str) -> bool:
        return bool(self.store.sql(_RUN_DONE, (city, job, period)))

    def record(self, city: str, job: str, period: str, done_ms: int, summary: str) -> None:
        self.store.sql(_RUN_RECORD, (city, job, period, done_ms, summary))


class SqlNotices:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add(self, city: str, notices: Sequence[NewNotice], now_ms: int) -> int:
        if not notices:
            return 0
        rows: list[tuple[str, tuple[Any, ...]]] = [(_COUNT, (city,))]
        for n in notices:
            facts = (n.id, n.wallet, n.lot, n.days_before, n.program, n.amount, n.expires_ms)
            rows.append((_ADD, (city, *facts, now_ms, now_ms)))
        rows.append((_COUNT, (city,)))
        # Counted inside the one transaction: how many of these were new.
        answers = self.store.sql_batch(rows)
        return int(answers[-1][0][0]) - int(answers[0][0][0])

    def due(self, now_ms: int, limit: int) -> list[StoredNotice]:
        return [_notice(r) for r in self.store.sql(_DUE, (now_ms, limit))]

    def delivered(self, city: str, notice: str, now_ms: int) -> None:
        self.store.sql(_DELIVERED, (now_ms, city, notice))

    def retry(
        self, city: str, notice: str, attempts: int, next_ms: int, error: str, status: str
    ) -> None:
        self.store.sql(_RETRY, (attempts, next_ms, error[:200], status, city, notice))

    def of_wallet(self, city: str, wallet: str, limit: int) -> list[StoredNotice]:
        return [_notice(r) for r in self.store.sql(_OF_WALLET, (city, wallet, limit))]

    def unseen(self, city: str, wallet: str) -> int:
        return int(self.store.sql(_UNSEEN, (city, wallet))[0][0])

    def mark_seen(self, city: str, wallet: str, now_ms: int) -> None:
        self.store.sql(_MARK_SEEN, (now_ms, city, wallet))
