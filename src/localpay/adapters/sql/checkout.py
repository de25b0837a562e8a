"""The checkout intents table (services/payments/checkout/ports.py CheckoutRepository).
One query text for both dialects; a create is idempotent per merchant and request key
(ON CONFLICT DO NOTHING, then the row as first recorded)."""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.services.payments.checkout.ports import (
    OPEN,
    REQUIRES_APPROVAL,
    IntentRecord,
    Snapshot,
)

_COLUMNS: Final = (
    "city, intent, merchant, request_key, order_ref, amount, return_url, description,"
    " created_ms, expires_ms, state, status, hold, captured, refunded, changed_ms"
)
_ADD: Final = (
    f"INSERT INTO checkout_intents ({_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (city, merchant, request_key) DO NOTHING"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM checkout_intents"
_GET: Final = _SELECT + " WHERE city = ? AND intent = ?"
_BY_KEY: Final = _SELECT + " WHERE city = ? AND merchant = ? AND request_key = ?"
_NEWEST: Final = " ORDER BY created_ms DESC, intent DESC LIMIT ?"
_SET_STATE: Final = (
    "UPDATE checkout_intents SET state = ?, changed_ms = ?"
    " WHERE city = ? AND intent = ? AND state = ?"
)
_REMEMBER: Final = (
    "UPDATE checkout_intents SET status = ?, hold = ?, captured = ?, refunded = ?,"
    " changed_ms = ? WHERE city = ? AND intent = ?"
)
_DUE: Final = (
    _SELECT + " WHERE status = ? AND state = ? AND hold = '' AND expires_ms <= ?"
    " ORDER BY expires_ms, intent LIMIT ?"
)


def _record(row: Row) -> IntentRecord:
    (city, intent, merchant, key, order, amount, url, description) = row[:8]
    (created, expires, state, status, hold, captured, refunded, changed) = row[8:]
    return IntentRecord(
        city=str(city),
        intent=str(intent),
        merchant=str(merchant),
        request_key=str(key),
        order=str(order),
        amount=int(amount),
        return_url=str(url),
        description=str(description),
        created_ms=int(created),
        expires_ms=int(expires),
        state=str(state),
        status=str(status),
        hold=str(hold),
        captured=int(captured),
        refunded=int(refunded),
        changed_ms=int(changed),
    )


class SqlCheckoutRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add(self, record: IntentRecord) -> IntentRecord:
        r = record
        self.store.sql(
            _ADD,
            (
                r.city, r.intent, r.merchant, r.request_key, r.order, r.amount, r.return_url,
                r.description, r.created_ms, r.expires_ms, r.state, r.status, r.hold,
                r.captured, r.refunded, r.changed_ms,
            ),
        )  # fmt: skip
        rows = self.store.sql(_BY_KEY, (r.city, r.merchant, r.request_key))
        return _record(rows[0])

    def get(self, city: str, intent: str) -> IntentRecord | None:
        rows = self.store.sql(_GET, (city, intent))
        return _record(rows[0]) if rows else None

    def of_merchant(
        self,
        city: str,
        merchant: str,
        statuses: tuple[str, ...] | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[IntentRecord]:
        query = _SELECT + " WHERE city = ? AND merchant = ?"
        params: list[object] = [city, merchant]
        if statuses:
            query += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        if after is not None:
            query += " AND (created_ms < ? OR (created_ms = ? AND intent < ?))"
            params.extend((after[0], after[0], after[1]))
        rows = self.store.sql(query + _NEWEST, (*params, limit))
        return [_record(r) for r in rows]

    def set_state(self, city: str, intent: str, state: str, only_from: str, now_ms: int) -> bool:
        before = self.get(city, intent)
        if before is None or before.state != only_from:
            return False
        self.store.sql(_SET_STATE, (state, now_ms, city, intent, only_from))
        after = self.get(city, intent)
        return after is not None and after.state == state

    def remember(self, city: str, intent: str, snapshot: Snapshot, now_ms: int) -> None:
        s = snapshot
        self.store.sql(_REMEMBER, (s.status, s.hold, s.captured, s.refunded, now_ms, city, intent))

    def due(self, now_ms: int, limit: int) -> list[IntentRecord]:
        rows = self.store.sql(_DUE, (REQUIRES_APPROVAL, OPEN, now_ms, limit))
        return [_record(r) for r in rows]
