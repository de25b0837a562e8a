"""The webhooks' tables (services/webhooks/ports.py): subscriptions with their delivery
cursors, and the delivery log, in webhook_subscriptions and webhook_attempts (migration
0018). One query text for both dialects; the cursor moves by compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from localpay.adapters.secrets import Sealer, seal_of
from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.services.webhooks.ports import (
    ACTIVE,
    Attempt,
    LoggedAttempt,
    Subscription,
    secret_context,
)

_COLUMNS: Final = (
    "city, id, merchant, url, types, secret_sealed, previous_sealed, previous_until_ms,"
    " created_ms, cursor_seq, attempts, next_ms, status, last_error, delivered_ms, rotation_key"
)
_ADD: Final = (
    f"INSERT INTO webhook_subscriptions ({_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1"
)
_GET: Final = f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE city = ? AND id = ?"
_OF_MERCHANT: Final = (
    f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE city = ? AND merchant = ?"
    " ORDER BY created_ms, id"
)
_OF_CITY: Final = f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE city = ? ORDER BY id"
_CITIES: Final = "SELECT DISTINCT city FROM webhook_subscriptions ORDER BY city"
_DELETE_LOG: Final = "DELETE FROM webhook_attempts WHERE city = ? AND subscription = ?"
_DELETE: Final = "DELETE FROM webhook_subscriptions WHERE city = ? AND id = ? RETURNING 1"
_ROTATE: Final = (
    "UPDATE webhook_subscriptions SET secret_sealed = ?, previous_sealed = ?,"
    " previous_until_ms = ?, rotation_key = ? WHERE city = ? AND id = ?"
    " AND (? = '' OR rotation_key <> ?) RETURNING 1"
)
_ADVANCE: Final = (
    "UPDATE webhook_subscriptions SET cursor_seq = ?, attempts = 0, next_ms = 0, status = ?,"
    " last_error = '', delivered_ms = COALESCE(?, delivered_ms)"
    " WHERE city = ? AND id = ? AND cursor_seq = ? RETURNING 1"
)
_FAILED: Final = (
    "UPDATE webhook_subscriptions SET cursor_seq = ?, attempts = ?, next_ms = ?, status = ?,"
    " last_error = ? WHERE city = ? AND id = ? AND cursor_seq = ? RETURNING 1"
)
_REWIND: Final = (
    "UPDATE webhook_subscriptions SET cursor_seq = ?, attempts = 0, next_ms = ?, status = ?,"
    " last_error = '' WHERE city = ? AND id = ?"
)
_LOG: Final = (
    "INSERT INTO webhook_attempts (city, subscription, event_id, type, seq, attempt,"
    " status_code, error, duration_ms, at_ms, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ATTEMPT_COLUMNS: Final = (
    "id, city, subscription, event_id, type, seq, attempt, status_code, error, duration_ms,"
    " at_ms, replay"
)
_ATTEMPTS: Final = (
    f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts WHERE city = ? AND subscription = ?"
    " AND id < ? ORDER BY id DESC LIMIT ?"
)
_SEALED: Final = "SELECT city, id, secret_sealed, previous_sealed FROM webhook_subscriptions"
_RESEAL: Final = (
    "UPDATE webhook_subscriptions SET secret_sealed = ?, previous_sealed = ?"
    " WHERE city = ? AND id = ? AND secret_sealed = ?"
)
#: Larger than any attempt id: "from the newest".
_NO_END: Final = 2**62


def _subscription(row: Row) -> Subscription:
    (city, ident, merchant, url, types, sealed, previous, until, created, cursor, tries,
     next_ms, status, error, delivered, rotation) = row  # fmt: skip
    return Subscription(
        str(city), str(ident), str(merchant), str(url),
        tuple(t for t in str(types).split(",") if t), bytes(sealed),
        None if previous is None else bytes(previous), int(until), int(created), int(cursor),
        int(tries), int(next_ms), str(status), str(error),
        None if delivered is None else int(delivered), str(rotation),
    )  # fmt: skip


def _attempt(row: Row) -> LoggedAttempt:
    ident, city, sub, event, kind, seq, number, code, error, took, at, replay = row
    done = Attempt(
        str(city), str(sub), str(event), str(kind), int(seq), int(number),
        None if code is None else int(code), str(error), int(took), int(at), bool(replay),
    )  # fmt: skip
    return LoggedAttempt(int(ident), done)


def _log_row(a: Attempt) -> tuple[object, ...]:
    return (
        a.city, a.subscription, a.event_id, a.type, a.seq, a.attempt, a.status_code, a.error,
        a.duration_ms, a.at_ms, int(a.replay),
    )  # fmt: skip


class SqlWebhooks:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add(self, s: Subscription) -> bool:
        row = (
            s.city, s.id, s.merchant, s.url, ",".join(s.types), s.secret_sealed,
            s.previous_sealed, s.previous_until_ms, s.created_ms, s.cursor, s.attempts,
            s.next_ms, s.status, s.last_error, s.delivered_ms, s.rotation_key,
        )  # fmt: skip
        return bool(self.store.sql(_ADD, row))

    def get(self, city: str, subscription: str) -> Subscription | None:
        rows = self.store.sql(_GET, (city, subscription))
        return _subscription(rows[0]) if rows else None

    def of_merchant(self, city: str, merchant: str) -> list[Subscription]:
        return [_subscription(r) for r in self.store.sql(_OF_MERCHANT, (city, merchant))]

    def cities(self) -> list[str]:
        return [str(r[0]) for r in self.store.sql(_CITIES)]

    def of_city(self, city: str) -> list[Subscription]:
        return [_subscription(r) for r in self.store.sql(_OF_CITY, (city,))]

    def delete(self, city: str, subscription: str) -> bool:
        answers = self.store.sql_batch(
            [(_DELETE_LOG, (city, subscription)), (_DELETE, (city, subscription))]
        )
        return bool(answers[-1])

    def rotate(
        self, city: str, subscription: str, sealed: bytes, previous: bytes, until_ms: int, key: str
    ) -> bool:
        params = (sealed, previous, until_ms, key, city, subscription, key, key)
        return bool(self.store.sql(_ROTATE, params))

    def advance(
        self, city: str, subscription: str, expected: int, cursor: int, delivered_ms: int | None
    ) -> bool:
        params = (cursor, ACTIVE, delivered_ms, city, subscription, expected)
        return bool(self.store.sql(_ADVANCE, params))

    def failed(
        self,
        city: str,
        subscription: str,
        expected: int,
        cursor: int,
        attempts: int,
        next_ms: int,
        status: str,
        error: str,
    ) -> bool:
        params = (cursor, attempts, next_ms, status, error[:200], city, subscription, expected)
        return bool(self.store.sql(_FAILED, params))

    def rewind(self, city: str, subscription: str, cursor: int, now_ms: int) -> None:
        self.store.sql(_REWIND, (cursor, now_ms, ACTIVE, city, subscription))

    def log(self, attempts: Sequence[Attempt]) -> None:
        self.store.sql_batch([(_LOG, _log_row(a)) for a in attempts])

    def attempts(
        self, city: str, subscription: str, before: int | None, limit: int
    ) -> list[LoggedAttempt]:
        params = (city, subscription, _NO_END if before is None else before, limit)
        return [_attempt(r) for r in self.store.sql(_ATTEMPTS, params)]

    def reseal(self, old: Sealer, new: Sealer) -> int:
        """Seal every endpoint's secrets under the `new` master key (`localpay keys
        rotate-master`); rows already under it are skipped, so a re-run finishes the job."""
        done = 0
        for city, ident, sealed, previous in self.store.sql(_SEALED):
            current = bytes(sealed)
            seal = seal_of(current)
            if seal is not None and seal.key_id == new.key_id:
                continue
            context = secret_context(str(city), str(ident))
            again = new.seal(old.open(current, context), context)
            before = (
                None if previous is None else new.seal(old.open(bytes(previous), context), context)
            )
            self.store.sql(_RESEAL, (again, before, city, ident, current))
            done += 1
        return done
