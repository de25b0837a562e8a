"""The idempotency table behind services/idempotency/ports.py: one query text for both."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from localpay.adapters.sql.runner import SqlRunner

_FIND: Final = (
    "SELECT request_hash, status, body, media_type FROM idempotency WHERE scope = ? AND key = ?"
)
# Keyset pages in primary-key order: each page starts past the last one's (scope, key).
_RECORDED: Final = (
    "SELECT scope, key FROM idempotency WHERE scope > ? OR (scope = ? AND key > ?)"
    " ORDER BY scope, key LIMIT ?"
)
#: Keys read per page by recorded().
RECORDED_PAGE: Final = 10_000
#: Answers written by one INSERT: 7 parameters each, far below SQLite's oldest bound of
#: 999 parameters a statement; one statement per row cost PostgreSQL a round trip each.
KEEP_ROWS: Final = 100
_ROW: Final = "(?, ?, ?, ?, ?, ?, ?)"


def _keep(rows: int) -> str:
    # The first answer stays: both dialects take ON CONFLICT ... DO NOTHING.
    return (
        "INSERT INTO idempotency (scope, key, request_hash, status, body, media_type, created_ms)"
        f" VALUES {', '.join([_ROW] * rows)} ON CONFLICT (scope, key) DO NOTHING"
    )


#: (scope, key, request_hash, status, body, media_type, created_ms)
AnswerRow = tuple[str, str, str, int, bytes, str, int]


class SqlIdempotencyRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def find(self, scope: str, key: str) -> tuple[str, int, bytes, str] | None:
        rows = self.store.sql(_FIND, (scope, key))
        if not rows:
            return None
        request_hash, status, body, media_type = rows[0]
        return str(request_hash), int(status), bytes(body), str(media_type)

    def recorded(self, page: int = RECORDED_PAGE) -> Iterator[tuple[str, str]]:
        scope, key = "", ""
        while True:
            rows = self.store.sql(_RECORDED, (scope, scope, key, page))
            for scope, key in rows:
                yield str(scope), str(key)
            if len(rows) < page:
                return

    def keep(self, answers: Sequence[AnswerRow]) -> None:
        chunks = [answers[i : i + KEEP_ROWS] for i in range(0, len(answers), KEEP_ROWS)]
        if chunks:
            self.store.sql_batch([(_keep(len(c)), tuple(v for a in c for v in a)) for c in chunks])
