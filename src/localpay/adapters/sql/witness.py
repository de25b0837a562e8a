"""A witness's own records (witness_signed, witness_alarms) behind services/witness/ports.py.

One query text for both dialects. They live in the witness's own store, beside the copy of
the chain it verified; nothing here is on the chain.
"""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import SqlRunner
from localpay.domain.witness import RaisedAlarm

_SIGNED: Final = "SELECT size, root FROM witness_signed WHERE city = ?"
_SIGNED_ROOT: Final = "SELECT root FROM witness_signed WHERE city = ? AND size = ?"
_NEWEST_SIGNED: Final = "SELECT size FROM witness_signed WHERE city = ? ORDER BY size DESC LIMIT 1"
_RECORD_SIGNED: Final = (
    "INSERT INTO witness_signed (city, size, root, signed_ms) VALUES (?, ?, ?, ?)"
)
_ALARM: Final = "SELECT reason, detail, height, raised_ms FROM witness_alarms WHERE city = ?"
_CLEAR_ALARM: Final = "DELETE FROM witness_alarms WHERE city = ?"
_ADD_ALARM: Final = (
    "INSERT INTO witness_alarms (city, reason, detail, height, raised_ms) VALUES (?, ?, ?, ?, ?)"
)


class SqlWitnessRecords:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def signed_checkpoints(self, city: str) -> dict[int, str]:
        return {int(size): str(root) for size, root in self.store.sql(_SIGNED, (city,))}

    def signed_root(self, city: str, size: int) -> str | None:
        rows = self.store.sql(_SIGNED_ROOT, (city, size))
        return str(rows[0][0]) if rows else None

    def newest_signed_size(self, city: str) -> int | None:
        rows = self.store.sql(_NEWEST_SIGNED, (city,))
        return int(rows[0][0]) if rows else None

    def record_signed(self, city: str, size: int, root: str, signed_ms: int) -> None:
        self.store.sql(_RECORD_SIGNED, (city, size, root, signed_ms))

    def alarm(self, city: str) -> RaisedAlarm | None:
        rows = self.store.sql(_ALARM, (city,))
        if not rows:
            return None
        reason, detail, height, raised = rows[0]
        return RaisedAlarm(str(reason), str(detail), int(height), int(raised))

    def replace_alarm(self, city: str, alarm: RaisedAlarm) -> None:
        a = alarm
        self.store.sql_batch(
            [
                (_CLEAR_ALARM, (city,)),
                (_ADD_ALARM, (city, a.reason, a.detail, a.height, a.raised_ms)),
            ]
        )

    def clear_alarm(self, city: str) -> None:
        self.store.sql(_CLEAR_ALARM, (city,))
