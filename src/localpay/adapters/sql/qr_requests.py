"""The dynamic QR's payment requests (migration 0015) behind services/payments/qr/request_ports.py.

Plain rows in and out (adapters import no services): a row holds the columns of _COLUMNS in
that order, the order of request_ports.StoredRequest. A claim is one conditional UPDATE, so
two wallets racing for one reference cannot both win, on either store.
"""

from __future__ import annotations

from typing import Final

from localpay.adapters.sql.runner import Row, SqlRunner

RequestRow = tuple[str, str, str, int, str, int, int, str, int, int]

_COLUMNS: Final = (
    "city, reference, merchant, amount, idem_key, created_ms, expires_ms, command, claimed_ms,"
    " paid_ms"
)
_INSERT: Final = (
    f"INSERT INTO qr_requests ({_COLUMNS}) VALUES ({', '.join('?' * 10)})"
    " ON CONFLICT (city, merchant, idem_key) DO NOTHING"
)
_GET: Final = f"SELECT {_COLUMNS} FROM qr_requests WHERE city = ? AND reference = ?"
_BY_KEY: Final = (
    f"SELECT {_COLUMNS} FROM qr_requests WHERE city = ? AND merchant = ? AND idem_key = ?"
)
_CLAIM: Final = (
    "UPDATE qr_requests SET command = ?, claimed_ms = ? WHERE city = ? AND reference = ?"
    " AND command = ? AND paid_ms = 0 RETURNING reference"
)
_RELEASE: Final = (
    "UPDATE qr_requests SET command = '', claimed_ms = 0 WHERE city = ? AND reference = ?"
    " AND command = ? AND paid_ms = 0"
)
_PAID: Final = (
    "UPDATE qr_requests SET paid_ms = ? WHERE city = ? AND reference = ? AND command = ?"
    " AND paid_ms = 0"
)


def _row(row: Row) -> RequestRow:
    city, reference, merchant, amount, key, created, expires, command, claimed, paid = row
    return (
        str(city),
        str(reference),
        str(merchant),
        int(amount),
        str(key),
        int(created),
        int(expires),
        str(command),
        int(claimed),
        int(paid),
    )


class SqlQrRequests:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def create(self, row: RequestRow) -> RequestRow:
        city, _, merchant, _, key = row[:5]
        found = self.store.sql_batch([(_INSERT, row), (_BY_KEY, (city, merchant, key))])[1]
        return _row(found[0])

    def get(self, city: str, reference: str) -> RequestRow | None:
        rows = self.store.sql(_GET, (city, reference))
        return _row(rows[0]) if rows else None

    def claim(self, city: str, reference: str, command: str, expected: str, now_ms: int) -> bool:
        return bool(self.store.sql(_CLAIM, (command, now_ms, city, reference, expected)))

    def release(self, city: str, reference: str, command: str) -> None:
        self.store.sql(_RELEASE, (city, reference, command))

    def mark_paid(self, city: str, reference: str, command: str, now_ms: int) -> None:
        self.store.sql(_PAID, (now_ms, city, reference, command))
