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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Final

from localpay.adapters.sql import migrate
from localpay.adapters.sql import queries as q
from localpay.adapters.sql.chain import ChainQueries, block_row
from localpay.adapters.sql.runner import Row, Statement
from localpay.adapters.sql.tx_private import tx_row
from localpay.ledger.blocks import BlockRecord, leaf_bytes
from localpay.ledger.ports import LeaseHeld, StoreConflict, StoreError

# Without the hint SQLite walks the city's primary key to skip a sort of ~100 rows:
# a scan of every transaction of the city for each block.
_BLOCK_TXS: Final = q.BLOCK_TXS.replace("FROM txs", "FROM txs INDEXED BY txs_by_height")


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed COMMIT may already have ended the transaction; keep the first error.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SQLiteStore(ChainQueries):
    dialect = "sqlite"
    #: Pages of a local file cost little: large ones, few statements.
    page_rows: ClassVar[int] = 10_000
    block_txs_query: ClassVar[str] = _BLOCK_TXS

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
                conn.execute(q.INSERT_BLOCK, block_row(city, block))
                conn.executemany(q.INSERT_TX, [tx_row(city, t) for t in block.txs])
                conn.executemany(
                    q.UPSERT_STATE, [(city, key, value, height) for key, value in block.state]
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

    # -- the runner: for this package's repositories (adapters/sql/runner.py) ------------

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """One statement (qmark placeholders) in its own transaction; rows if any."""
        return self.sql_batch([(query, params)])[-1]

    def sql_batch(self, statements: list[Statement]) -> list[list[Row]]:
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

    # -- reads: queries.py through chain.ChainQueries, but for what differs -----------

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        return self._reader().execute(query, params).fetchall()

    def cities(self) -> list[str]:
        rows = self._reader().execute("SELECT city FROM blocks WHERE height = 0 ORDER BY city")
        return [r[0] for r in rows]

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

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
