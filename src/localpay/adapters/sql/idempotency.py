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
# The first answer stays: both dialects take ON CONFLICT ... DO NOTHING.
_KEEP: Final = (
    "INSERT INTO idempotency (scope, key, request_hash, status, body, media_type, created_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING"
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
        if answers:
            self.store.sql_batch([(_KEEP, tuple(a)) for a in answers])
