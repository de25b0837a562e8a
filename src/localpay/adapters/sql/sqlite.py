"""The embedded store: one SQLite file, WAL, synchronous=FULL.

One writer connection (the committer thread); each other thread reads through
its own connection, which WAL lets run beside the writer. The write lease of a
city is an exclusive flock on a file beside the database, released by the OS if
the process dies, so a crashed sequencer never blocks its successor.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from localpay.adapters.sql import migrate
from localpay.adapters.sql.tx_private import (
    tx_record,
    tx_row,
)
from localpay.ledger.blocks import BlockRecord, TxRecord, leaf_bytes
from localpay.ledger.ports import LeaseHeld, StoreConflict, StoredBlock, StoreError

_TX_COLUMNS = "seq, height, id, kind, envelope, result, parties, balances"
_BLOCK_COLUMNS = "height, header, hash, signature, checkpoint, frontier"


def _frontier_bytes(hashes: list[bytes]) -> bytes:
    return msgspec.json.encode([h.hex() for h in hashes])


def _frontier(data: bytes) -> list[bytes]:
    return [bytes.fromhex(h) for h in msgspec.json.decode(data, type=list[str])]


def _stored_block(row: tuple[int, bytes, bytes, bytes, str, bytes]) -> StoredBlock:
    height, header, block_hash, signature, note, frontier = row
    return StoredBlock(
        height, bytes(header), bytes(block_hash), bytes(signature), note, _frontier(bytes(frontier))
    )


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed COMMIT may already have ended the transaction; keep the first error.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        try:
            self._writer = self._connect()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable localpay database ({exc})") from None
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._writer.close()
            raise StoreError(f"{self.path}: not a usable localpay database ({exc})") from None
        except StoreError:
            self._writer.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged block survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def _migrate(self) -> None:
        conn = self._writer
        with self._write_lock:
            # Read the applied versions inside the write transaction: two processes
            # opening a new file at once must not both apply the same migration.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                )
                applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                try:
                    todo = migrate.pending(applied, self.dialect)
                except RuntimeError as exc:
                    raise StoreError(f"{self.path}: {exc}") from None
                for version, name, script in todo:
                    for statement in migrate.statements(script):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, name))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    # -- lease -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, city: str) -> Iterator[None]:
        lock_path = self.path.with_name(f"{self.path.name}.{city}.lease")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LeaseHeld(f"another sequencer is writing city {city!r} in {self.path}") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- writes ------------------------------------------------------------------------

    def append_block(self, city: str, block: BlockRecord) -> None:
        height = block.header.height
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO blocks (city, height, hash, header, signature, checkpoint,"
                    " frontier) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        city,
                        height,
                        block.hash,
                        block.header_bytes,
                        block.signature,
                        block.checkpoint,
                        _frontier_bytes(block.frontier),
                    ),
                )
                conn.executemany(
                    "INSERT INTO txs (city, seq, height, id, kind, envelope, result, parties,"
                    " balances) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [tx_row(city, t) for t in block.txs],
                )
                conn.executemany(
                    "INSERT INTO state (city, key, value, height) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (city, key) DO UPDATE"
                    " SET value = excluded.value, height = excluded.height",
                    [(city, key, value, height) for key, value in block.state],
                )
                conn.executemany(
                    "DELETE FROM state WHERE city = ? AND key = ?",
                    [(city, key) for key in block.retired],
                )
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                _rollback(conn)
                raise StoreError(f"block {height} of {city} not written: {exc}") from None
            except BaseException:
                _rollback(conn)
                raise

    # -- application tables (identities, idempotency, proposals) -------------------------

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement (qmark placeholders) in its own transaction; rows if any."""
        return self.sql_batch([(query, params)])[-1]

    def sql_batch(
        self, statements: list[tuple[str, tuple[Any, ...]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Several statements in one transaction: all or none."""
        conn = self._reader()
        if all(q.lstrip()[:6].upper() == "SELECT" for q, _ in statements):
            # Reads never take the write lock: the committer must not wait for them.
            try:
                return [conn.execute(q, p).fetchall() for q, p in statements]
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: {exc}") from None
        try:
            conn.execute("BEGIN IMMEDIATE")
            out = [conn.execute(q, p).fetchall() for q, p in statements]
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(conn)
            raise StoreConflict(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            raise StoreError(f"{self.path}: {exc}") from None
        return out

    # -- reads -------------------------------------------------------------------------

    def cities(self) -> list[str]:
        rows = self._reader().execute("SELECT city FROM blocks WHERE height = 0 ORDER BY city")
        return [r[0] for r in rows]

    def head(self, city: str) -> StoredBlock | None:
        row = (
            self._reader()
            .execute(
                f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE city = ? ORDER BY height DESC LIMIT 1",
                (city,),
            )
            .fetchone()
        )
        return _stored_block(row) if row else None

    def blocks(self, city: str, start: int = 0, end: int | None = None) -> Iterator[StoredBlock]:
        rows = self._reader().execute(
            f"SELECT {_BLOCK_COLUMNS} FROM blocks WHERE city = ? AND height >= ? AND height < ?"
            " ORDER BY height",
            (city, start, end if end is not None else 2**62),
        )
        return map(_stored_block, rows)

    def txs(self, city: str, start: int = 0, end: int | None = None) -> Iterator[TxRecord]:
        rows = self._reader().execute(
            f"SELECT {_TX_COLUMNS} FROM txs WHERE city = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (city, start, end if end is not None else 2**62),
        )
        return map(tx_record, rows)

    def block_txs(self, city: str, height: int) -> list[TxRecord]:
        rows = self._reader().execute(
            # Without the hint SQLite walks the city's primary key to skip a sort of
            # ~100 rows: a scan of every transaction of the city for each block.
            f"SELECT {_TX_COLUMNS} FROM txs INDEXED BY txs_by_height"
            " WHERE city = ? AND height = ? ORDER BY seq",
            (city, height),
        )
        return [tx_record(r) for r in rows]

    def find_tx(self, city: str, tx_id: str) -> TxRecord | None:
        row = (
            self._reader()
            .execute(f"SELECT {_TX_COLUMNS} FROM txs WHERE city = ? AND id = ?", (city, tx_id))
            .fetchone()
        )
        return tx_record(row) if row else None

    def add_parties(self, city: str, rows: list[tuple[str, int]]) -> None:
        """Index (account, seq) pairs; repeats are ignored (the index is rebuildable)."""
        self.sql_batch(
            [
                (
                    "INSERT OR IGNORE INTO tx_parties (city, account, seq) VALUES (?, ?, ?)",
                    (city, account, seq),
                )
                for account, seq in rows
            ]
        )

    def parties_high_water(self, city: str) -> int:
        row = (
            self._reader()
            .execute("SELECT max(seq) FROM tx_parties WHERE city = ?", (city,))
            .fetchone()
        )
        return -1 if row is None or row[0] is None else int(row[0])

    def account_txs(
        self, city: str, account: str, before: int | None, limit: int
    ) -> list[TxRecord]:
        rows = self._reader().execute(
            f"SELECT {', '.join('t.' + c for c in _TX_COLUMNS.split(', '))} FROM tx_parties p"
            " JOIN txs t ON t.city = p.city AND t.seq = p.seq"
            " WHERE p.city = ? AND p.account = ? AND p.seq < ? ORDER BY p.seq DESC LIMIT ?",
            (city, account, before if before is not None else 2**62, limit),
        )
        return [tx_record(r) for r in rows]

    def tx_ids(self, city: str) -> Iterator[str]:
        rows = self._reader().execute("SELECT id FROM txs WHERE city = ?", (city,))
        return (r[0] for r in rows)

    def state(self, city: str) -> Iterator[tuple[str, bytes]]:
        rows = self._reader().execute(
            "SELECT key, value FROM state WHERE city = ? ORDER BY key", (city,)
        )
        return ((k, bytes(v)) for k, v in rows)

    def state_value(self, city: str, key: str) -> bytes | None:
        row = (
            self._reader()
            .execute("SELECT value FROM state WHERE city = ? AND key = ?", (city, key))
            .fetchone()
        )
        return bytes(row[0]) if row else None

    # -- transparency: leaf hashes and cosignatures ---------------------------------------

    def leaf_hashes(self, city: str, start: int, end: int) -> list[bytes]:
        """RFC 6962 leaf hashes of seq in [start, end), contiguous from start; one streamed read."""
        cursor = self._reader().execute(
            "SELECT seq, envelope, result FROM txs WHERE city = ? AND seq >= ? AND seq < ?"
            " ORDER BY seq",
            (city, start, end),
        )
        sha256 = hashlib.sha256
        out: list[bytes] = []
        try:
            for seq, envelope, result in cursor:
                if seq != start + len(out):
                    break  # a hole: the log is only known up to it
                out.append(sha256(b"\x00" + leaf_bytes(bytes(envelope), bytes(result))).digest())
        finally:
            cursor.close()
        return out

    def add_cosignature(
        self, city: str, size: int, witness_key: str, line: str, timestamp: int
    ) -> bool:
        _, changed = self.sql_batch(
            [
                (
                    "INSERT OR IGNORE INTO cosignatures (city, size, witness_key, line, timestamp)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (city, size, witness_key, line, timestamp),
                ),
                ("SELECT changes()", ()),
            ]
        )
        return bool(changed and changed[0][0])

    def cosignatures(self, city: str, size: int) -> list[tuple[str, str, int]]:
        rows = self._reader().execute(
            "SELECT witness_key, line, timestamp FROM cosignatures WHERE city = ? AND size = ?"
            " ORDER BY witness_key",
            (city, size),
        )
        return [(str(k), str(line), int(ts)) for k, line, ts in rows]

    def cosigned_sizes(
        self,
        city: str,
        witness_keys: Sequence[str],
        at_least: int,
        before: int | None = None,
        limit: int = 16,
    ) -> list[int]:
        keys = list(dict.fromkeys(witness_keys))
        if not keys or at_least > len(keys):
            return []
        rows = self._reader().execute(
            "SELECT size FROM cosignatures WHERE city = ? AND size < ?"
            f" AND witness_key IN ({', '.join('?' * len(keys))})"
            " GROUP BY size HAVING count(*) >= ? ORDER BY size DESC LIMIT ?",
            (city, before if before is not None else 2**62, *keys, max(at_least, 1), limit),
        )
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
