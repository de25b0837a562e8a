"""The conventional design, for comparison: one database transaction per payment.

Each payment: check its Ed25519 signature, then BEGIN; lock the wallet row
(SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite); check the
balance; debit the wallet; credit the merchant; insert the payment; COMMIT.
Several client threads each run their share, as an application server would.
Same signed payment commands, same store kind, same durability settings as ours.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing
import psycopg

from localpay.domain import commands as c
from localpay.ledger.signatures import public_key_hex, sign_command, verify_one
from localpay.sim.bench import percentile

WALLETS = 2000
MERCHANTS = 200
CITY = "conventional"


def signed_payments(count: int) -> tuple[dict[str, str], list[bytes]]:
    rng = random.Random(11)
    keys = {f"w-{n:07d}": nacl.signing.SigningKey.generate() for n in range(WALLETS)}
    merchants = [f"m-{n:05d}" for n in range(MERCHANTS)]
    wallets = list(keys)
    out = []
    for n in range(count):
        wallet = rng.choice(wallets)
        pay = c.Pay(
            id=f"{n:032x}",
            city=CITY,
            wallet=wallet,
            merchant=rng.choice(merchants),
            amount=rng.randrange(10, 300) * 100,
            evidence="",
        )
        out.append(sign_command(pay, [keys[wallet]]))
    return {w: public_key_hex(k) for w, k in keys.items()}, out


class SQLiteBank:
    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def create(self, wallet_keys: dict[str, str]) -> None:
        conn = self.connect()
        conn.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY, key TEXT, balance INTEGER)")
        conn.execute(
            "CREATE TABLE payments (id TEXT PRIMARY KEY, wallet TEXT, merchant TEXT,"
            " amount INTEGER, envelope BLOB)"
        )
        rows = [(w, k, 10**9) for w, k in wallet_keys.items()]
        rows += [(f"m-{n:05d}", "", 0) for n in range(MERCHANTS)]
        conn.executemany("INSERT INTO accounts VALUES (?, ?, ?)", rows)
        conn.close()

    def pay(self, conn: Any, pay: c.Pay, envelope: bytes) -> None:
        conn.execute("BEGIN IMMEDIATE")
        (balance,) = conn.execute(
            "SELECT balance FROM accounts WHERE id = ?", (pay.wallet,)
        ).fetchone()
        if balance < pay.amount:
            conn.execute("ROLLBACK")
            return
        conn.execute(
            "UPDATE accounts SET balance = balance - ? WHERE id = ?", (pay.amount, pay.wallet)
        )
        conn.execute(
            "UPDATE accounts SET balance = balance + ? WHERE id = ?", (pay.amount, pay.merchant)
        )
        conn.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?)",
            (pay.id, pay.wallet, pay.merchant, pay.amount, envelope),
        )
        conn.execute("COMMIT")


class PostgresBank:
    def __init__(self, url: str) -> None:
        self.url = url
        self.schema = "conventional_bench"

    def connect(self) -> psycopg.Connection[Any]:
        # Autocommit, so that each `conn.transaction()` below is a real BEGIN ... COMMIT
        # (durable: synchronous_commit stays on), not a savepoint inside a long transaction.
        conn = psycopg.connect(self.url, autocommit=True)
        conn.execute(f"SET search_path TO {self.schema}")
        return conn

    def create(self, wallet_keys: dict[str, str]) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {self.schema}")
            conn.execute(f"SET search_path TO {self.schema}")
            conn.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY, key TEXT, balance BIGINT)")
            conn.execute(
                "CREATE TABLE payments (id TEXT PRIMARY KEY, wallet TEXT,"
                " merchant TEXT, amount BIGINT, envelope BYTEA)"
            )
            with conn.cursor().copy("COPY accounts FROM STDIN") as copy:
                for w, k in wallet_keys.items():
                    copy.write_row((w, k, 10**9))
                for n in range(MERCHANTS):
                    copy.write_row((f"m-{n:05d}", "", 0))

    def pay(self, conn: Any, pay: c.Pay, envelope: bytes) -> None:
        with conn.transaction():
            (balance,) = conn.execute(
                "SELECT balance FROM accounts WHERE id = %s FOR UPDATE", (pay.wallet,)
            ).fetchone()
            if balance < pay.amount:
                return
            conn.execute(
                "UPDATE accounts SET balance = balance - %s WHERE id = %s", (pay.amount, pay.wallet)
            )
            conn.execute(
                "UPDATE accounts SET balance = balance + %s WHERE id = %s",
                (pay.amount, pay.merchant),
            )
            conn.execute(
                "INSERT INTO payments VALUES (%s, %s, %s, %s, %s)",
                (pay.id, pay.wallet, pay.merchant, pay.amount, envelope),
            )

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def run_conventional(bank: Any, payments: int, clients: int) -> dict[str, Any]:
    """Payments/s and latency of the one-transaction-per-payment design."""
    wallet_keys, signed = signed_payments(payments)
    bank.create(wallet_keys)
    latencies: list[float] = []
    lock = threading.Lock()

    failures: list[BaseException] = []

    def client(share: list[bytes]) -> None:
        try:
            _client(share)
        except BaseException as exc:
            failures.append(exc)

    def _client(share: list[bytes]) -> None:
        conn = bank.connect()
        local = []
        for envelope in share:
            begin = time.perf_counter()
            env, command = c.decode_envelope(envelope)
            assert isinstance(command, c.Pay)
            signers = verify_one(bytes(env.body), env.sigs)
            if signers is not None and wallet_keys[command.wallet] in signers:
                bank.pay(conn, command, envelope)
            local.append(time.perf_counter() - begin)
        conn.close()
        with lock:
            latencies.extend(local)

    shares = [signed[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=client, args=(s,)) for s in shares]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    if failures:
        raise RuntimeError(f"conventional benchmark client failed: {failures[0]!r}")
    return {
        "conventional_payments_per_s": round(payments / elapsed, 1),
        "conventional_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "conventional_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "conventional_clients": clients,
    }


def best_of(run: Callable[[int], dict[str, Any]], client_counts: list[int]) -> dict[str, Any]:
    """The conventional design at its best client count (it is not tuned down to lose)."""
    results = [run(n) for n in client_counts]
    return max(results, key=lambda r: r["conventional_payments_per_s"])
