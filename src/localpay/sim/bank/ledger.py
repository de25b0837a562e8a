"""The simulated bank's own book, in its own SQLite file: virtual accounts, transfers into
them and the deposit notices owed to the platform (with their delivery state)."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    number TEXT PRIMARY KEY, city TEXT NOT NULL, order_id TEXT NOT NULL, amount INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL, opened_ms INTEGER NOT NULL, paid INTEGER NOT NULL DEFAULT 0,
    UNIQUE (city, order_id));
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL, deposit_ref TEXT NOT NULL,
    paid_ms INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0);
"""


class BankRefusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Account:
    number: str
    city: str
    order: str
    amount: int
    deadline_ms: int
    paid: bool


@dataclass(frozen=True)
class Notice:
    id: str
    account: str
    amount: int
    deposit_ref: str
    paid_ms: int
    attempts: int


def account_number(city: str, order: str) -> str:
    """A virtual account number of the bank's own series, one per order."""
    digits = (
        f"{int.from_bytes(hashlib.sha256(f'{city}/{order}'.encode()).digest()[:8]) % 10**12:012d}"
    )
    return f"7990-{digits[:4]}-{digits[4:8]}-{digits[8:]}"


class BankBook:
    def __init__(self, path: str | Path) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def open_account(
        self, city: str, order: str, amount: int, deadline_ms: int, now: int
    ) -> Account:
        number = account_number(city, order)
        with self.lock:
            self.db.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                (number, city, order, amount, deadline_ms, now),
            )
        found = self.account(number)
        if found is None or (found.city, found.order) != (city, order):
            raise BankRefusal(409, "account_taken", "that account number belongs to another order")
        return found

    def account(self, number: str) -> Account | None:
        with self.lock:
            row = self.db.execute(
                "SELECT number, city, order_id, amount, deadline_ms, paid FROM accounts"
                " WHERE number = ?",
                (number,),
            ).fetchone()
        return Account(row[0], row[1], row[2], row[3], row[4], bool(row[5])) if row else None

    def transfer(self, number: str, amount: int, now: int) -> Notice:
        """A citizen pays `amount` into the virtual account: a notice is owed."""
        account = self.account(number.strip())
        if account is None:
            raise BankRefusal(404, "no_account", "there is no such virtual account")
        if amount != account.amount:
            raise BankRefusal(
                422, "wrong_amount", f"this account takes exactly {account.amount} won"
            )
        notice = Notice(
            "n-" + secrets.token_hex(8),
            account.number,
            amount,
            "simbank-" + secrets.token_hex(8),
            now,
            0,
        )
        with self.lock:
            changed = self.db.execute(
                "UPDATE accounts SET paid = 1 WHERE number = ? AND paid = 0", (account.number,)
            ).rowcount
            if not changed:
                raise BankRefusal(409, "already_paid", "this virtual account is paid already")
            self.db.execute(
                "INSERT INTO notices (id, account, amount, deposit_ref, paid_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (notice.id, notice.account, notice.amount, notice.deposit_ref, notice.paid_ms),
            )
        return notice

    def due(self, now: int, limit: int = 50) -> list[Notice]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, account, amount, deposit_ref, paid_ms, attempts FROM notices"
                " WHERE delivered = 0 AND next_ms <= ? ORDER BY paid_ms LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Notice(*row) for row in rows]

    def delivered(self, notice: str) -> None:
        with self.lock:
            self.db.execute("UPDATE notices SET delivered = 1 WHERE id = ?", (notice,))

    def failed(self, notice: str, next_ms: int) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE notices SET attempts = attempts + 1, next_ms = ? WHERE id = ?",
                (next_ms, notice),
            )

    def undelivered(self) -> int:
        with self.lock:
            return int(
                self.db.execute("SELECT count(*) FROM notices WHERE delivered = 0").fetchone()[0]
            )

    def close(self) -> None:
        self.db.close()
