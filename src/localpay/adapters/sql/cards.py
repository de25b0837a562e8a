"""The card tables (migration 0016) behind services/payments/card/ports.py.

Plain rows in and out (adapters import no services): a card's row holds the columns of
_CARD_COLUMNS in the order of ports.CardRecord, a terminal's those of ports.TerminalRecord.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from localpay.adapters.sql.runner import Row, SqlRunner

_CARD_COLUMNS: Final = (
    "city, card, wallet, last4, expiry, status, custodial, sealed, pin_hash, pin_tries,"
    " idem_key, issued_by, issued_ms, changed_ms, replaces"
)
_CARD_INSERT: Final = (
    f"INSERT INTO cards ({_CARD_COLUMNS}) VALUES ({', '.join('?' * 15)})"
    " ON CONFLICT (city, idem_key) DO NOTHING"
)
_CARD_SELECT: Final = f"SELECT {_CARD_COLUMNS} FROM cards WHERE city = ?"
_TERMINAL_COLUMNS: Final = "terminal, city, merchant, added_by, added_ms"
_TERMINAL_INSERT: Final = (
    f"INSERT INTO card_terminals ({_TERMINAL_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (terminal) DO NOTHING"
)
_TERMINAL_SELECT: Final = f"SELECT {_TERMINAL_COLUMNS} FROM card_terminals"


CardRow = tuple[str, str, str, str, str, str, bool, bytes, str, int, str, str, int, int, str]
TerminalRow = tuple[str, str, str, str, int]


def _card(row: Row) -> CardRow:
    """A stored row with its integers, flags and bytes as Python's (drivers differ)."""
    s = [str(v) for v in row]
    return (
        s[0], s[1], s[2], s[3], s[4], s[5], bool(row[6]), bytes(row[7]), s[8], int(row[9]),
        s[10], s[11], int(row[12]), int(row[13]), s[14],
    )  # fmt: skip


def _terminal(row: Row) -> TerminalRow:
    return (str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))


class SqlCardRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def bin_of(self, city: str, bin_for: Callable[[int], str]) -> str:
        """The city's BIN; at first use `bin_for(n)`, n the count of cities with one + 1."""
        for _ in range(5):
            found = self.store.sql("SELECT bin FROM card_bins WHERE city = ?", (city,))
            if found:
                return str(found[0][0])
            taken = int(self.store.sql("SELECT COUNT(*) FROM card_bins")[0][0])
            try:
                self.store.sql(
                    "INSERT INTO card_bins (city, bin) VALUES (?, ?) ON CONFLICT (city) DO NOTHING",
                    (city, bin_for(taken + 1)),
                )
            except Exception:  # noqa: S112 (another city took that BIN just now: count again)
                continue
        found = self.store.sql("SELECT bin FROM card_bins WHERE city = ?", (city,))
        return str(found[0][0])

    def add_card(self, card: CardRow) -> CardRow:
        values = list(card)
        values[6] = int(card[6])
        self.store.sql(_CARD_INSERT, tuple(values))
        rows = self.store.sql(f"{_CARD_SELECT} AND idem_key = ?", (card[0], card[10]))
        return _card(rows[0])

    def card(self, city: str, card: str) -> CardRow | None:
        rows = self.store.sql(f"{_CARD_SELECT} AND card = ?", (city, card))
        return _card(rows[0]) if rows else None

    def cards_of(self, city: str, wallet: str) -> list[CardRow]:
        query = f"{_CARD_SELECT} AND wallet = ? ORDER BY issued_ms, card"
        return [_card(row) for row in self.store.sql(query, (city, wallet))]

    def set_status(self, city: str, card: str, status: str, now_ms: int) -> None:
        self.store.sql(
            "UPDATE cards SET status = ?, changed_ms = ? WHERE city = ? AND card = ?",
            (status, now_ms, city, card),
        )

    def set_pin(self, city: str, card: str, pin_hash: str, now_ms: int) -> None:
        self.store.sql(
            "UPDATE cards SET pin_hash = ?, pin_tries = 0, changed_ms = ?"
            " WHERE city = ? AND card = ?",
            (pin_hash, now_ms, city, card),
        )

    def wrong_pin(self, city: str, card: str) -> int:
        rows = self.store.sql(
            "UPDATE cards SET pin_tries = pin_tries + 1 WHERE city = ? AND card = ?"
            " RETURNING pin_tries",
            (city, card),
        )
        return int(rows[0][0]) if rows else 0

    def right_pin(self, city: str, card: str) -> None:
        self.store.sql(
            "UPDATE cards SET pin_tries = 0 WHERE city = ? AND card = ? AND pin_tries > 0",
            (city, card),
        )

    def add_terminal(self, terminal: TerminalRow) -> TerminalRow:
        self.store.sql(_TERMINAL_INSERT, terminal)
        found = self.terminal(terminal[0])
        assert found is not None
        return found

    def terminal(self, terminal: str) -> TerminalRow | None:
        rows = self.store.sql(f"{_TERMINAL_SELECT} WHERE terminal = ?", (terminal,))
        return _terminal(rows[0]) if rows else None

    def terminals(self, city: str, merchant: str | None) -> list[TerminalRow]:
        if merchant is None:
            rows = self.store.sql(f"{_TERMINAL_SELECT} WHERE city = ? ORDER BY terminal", (city,))
        else:
            query = f"{_TERMINAL_SELECT} WHERE city = ? AND merchant = ? ORDER BY terminal"
            rows = self.store.sql(query, (city, merchant))
        return [_terminal(row) for row in rows]

    def remove_terminal(self, city: str, terminal: str) -> bool:
        rows = self.store.sql(
            "DELETE FROM card_terminals WHERE city = ? AND terminal = ? RETURNING terminal",
            (city, terminal),
        )
        return bool(rows)

    def add_approval(self, city: str, terminal: str, auth_code: str, hold: str) -> None:
        self.store.sql(
            "INSERT INTO card_approvals (city, terminal, auth_code, hold) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (city, terminal, auth_code) DO NOTHING",
            (city, terminal, auth_code, hold),
        )

    def approval(self, city: str, terminal: str, auth_code: str) -> str | None:
        rows = self.store.sql(
            "SELECT hold FROM card_approvals WHERE city = ? AND terminal = ? AND auth_code = ?",
            (city, terminal, auth_code),
        )
        return str(rows[0][0]) if rows else None
