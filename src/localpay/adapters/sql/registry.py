"""The merchant registry's tables (migration 0014) behind services/registry/ports.py.

Plain rows in and out (adapters import no services): an application's row holds the
columns of _COLUMNS in that order, the order of services/registry/ports.ApplicationRecord.
"""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import Row, SqlRunner

_COLUMNS: Final = (
    "id, city, status, merchant, token_hash, idem_key, request_hash, brn_hash, name, name_en,"
    " industry, category, area, revenue, owner_username, account_mask, sealed, sealed_password,"
    " reason, created_ms, decided_ms"
)
_INSERT: Final = (
    f"INSERT INTO registry_applications ({_COLUMNS}) VALUES"
    f" ({', '.join('?' * 21)}) ON CONFLICT (city, idem_key) DO NOTHING RETURNING id"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM registry_applications WHERE city = ?"
_SALT_ADD: Final = (
    "INSERT INTO registry_salts (city, salt) VALUES (?, ?) ON CONFLICT (city) DO NOTHING"
)
_SALT: Final = "SELECT salt FROM registry_salts WHERE city = ?"
_TAKEN: Final = (
    "SELECT brn_hash = ?, owner_username = ? FROM registry_applications"
    " WHERE city = ? AND status <> ? AND (brn_hash = ? OR owner_username = ?)"
)
_DECIDE: Final = (
    "UPDATE registry_applications SET status = ?, reason = ?, decided_ms = ?"
    " WHERE city = ? AND id = ? AND status = ? RETURNING id"
)
_FORGET: Final = "UPDATE registry_applications SET sealed_password = NULL WHERE city = ? AND id = ?"
_DECISION_ADD: Final = (
    "INSERT INTO registry_decisions (city, proposal, subject, step, created_ms)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (city, proposal) DO NOTHING"
)
_DECISIONS: Final = (
    "SELECT proposal, subject, step, created_ms FROM registry_decisions"
    " WHERE city = ? AND subject = ? ORDER BY created_ms, proposal"
)


def _row(row: Row) -> tuple[object, ...]:
    """A stored row with its integers and bytes as Python's (drivers differ)."""
    values = list(row)
    values[13], values[19], values[20] = int(values[13]), int(values[19]), int(values[20])
    values[16] = bytes(values[16])
    values[17] = None if values[17] is None else bytes(values[17])
    return tuple(values)


class SqlRegistryRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def salt(self, city: str, fresh: str) -> str:
        self.store.sql(_SALT_ADD, (city, fresh))
        return str(self.store.sql(_SALT, (city,))[0][0])

    def add(self, row: tuple[object, ...]) -> bool:
        return bool(self.store.sql(_INSERT, row))

    def _one(self, where: str, params: tuple[object, ...]) -> tuple[object, ...] | None:
        rows = self.store.sql(f"{_SELECT} AND {where}", params)
        return _row(rows[0]) if rows else None

    def by_idem_key(self, city: str, idem_key: str) -> tuple[object, ...] | None:
        return self._one("idem_key = ?", (city, idem_key))

    def by_token(self, city: str, token_hash: str) -> tuple[object, ...] | None:
        return self._one("token_hash = ?", (city, token_hash))

    def get(self, city: str, application: str) -> tuple[object, ...] | None:
        return self._one("id = ?", (city, application))

    def by_merchant(self, city: str, merchant: str) -> tuple[object, ...] | None:
        return self._one("merchant = ?", (city, merchant))

    def page(self, city: str, status: str | None, limit: int) -> list[tuple[object, ...]]:
        if status is None:
            rows = self.store.sql(f"{_SELECT} ORDER BY created_ms DESC, id LIMIT ?", (city, limit))
        else:
            query = f"{_SELECT} AND status = ? ORDER BY created_ms DESC, id LIMIT ?"
            rows = self.store.sql(query, (city, status, limit))
        return [_row(row) for row in rows]

    def taken(
        self, city: str, brn_hash: str, owner_username: str, refused: str
    ) -> tuple[bool, bool]:
        params = (brn_hash, owner_username, city, refused, brn_hash, owner_username)
        rows = self.store.sql(_TAKEN, params)
        return any(bool(r[0]) for r in rows), any(bool(r[1]) for r in rows)

    def decide(
        self, city: str, application: str, status: str, reason: str, now: int, pending: str
    ) -> bool:
        params = (status, reason, now, city, application, pending)
        return bool(self.store.sql(_DECIDE, params))

    def forget_password(self, city: str, application: str) -> None:
        self.store.sql(_FORGET, (city, application))

    def add_decision(
        self, city: str, proposal: str, subject: str, step: str, created_ms: int
    ) -> None:
        self.store.sql(_DECISION_ADD, (city, proposal, subject, step, created_ms))

    def decisions(self, city: str, subject: str) -> list[tuple[str, str, str, int]]:
        """(proposal, subject, step, created_ms), oldest first."""
        rows = self.store.sql(_DECISIONS, (city, subject))
        return [(str(p), str(s), str(t), int(c)) for p, s, t, c in rows]
