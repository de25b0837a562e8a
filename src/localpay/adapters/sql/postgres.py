"""The server store: PostgreSQL through psycopg 3, same contract as SQLiteStore.

Connections, each autocommit unless inside an explicit transaction:

* a city's write lease is a session-level advisory lock (``pg_try_advisory_lock``)
  taken on a connection of its own, held open for the lease's duration. The server
  releases it when that session ends, so a crashed sequencer never blocks its
  successor. While the lease is held, that same connection is the city's writer:
  a block can only be written by the session that holds the lock, so a sequencer
  whose lease session died cannot write behind its successor's back. Each leased
  city has its own writer, so cities commit in parallel.
* one shared writer connection for ``append_block`` on a city this store does not
  lease (tools, imports, tests).
* one reader connection per thread, created on first use and closed when the
  thread ends or the store closes.

``append_block`` is one transaction: the block row, its transactions by binary
COPY, its state rows by one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT``
with the arrays sent in binary. On 2000 txs and 4000 state rows, COPY took the txs
in about half the time of executemany (pipeline mode), and the unnest upsert the
state rows in about half the time of executemany, level with COPY into a temp
table followed by INSERT ... SELECT, without the temp table. Durability is the
server's ``synchronous_commit`` (on by default; a writer session that finds it off
turns it on): a block is acknowledged only once its commit is flushed.

Session-level advisory locks need a session: behind PgBouncer, use session
pooling for the store's URL, never transaction pooling.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import conninfo

from localpay.adapters.sql import migrate
from localpay.adapters.sql import queries as q
from localpay.adapters.sql.chain import ChainQueries, block_row
from localpay.adapters.sql.runner import Statement
from localpay.adapters.sql.tx_private import tx_row
from localpay.ledger.blocks import BlockRecord
from localpay.ledger.ports import LeaseHeld, StoreConflict, StoreError

#: Connection timeout when the URL sets none: fail fast on an unreachable server.
CONNECT_TIMEOUT_S: Final = 10
#: Prefixes hashed with a name into an advisory lock key: localpay's locks only.
LEASE_NAMESPACE: Final = b"localpay/lease/v1\x00"
MIGRATION_NAMESPACE: Final = b"localpay/migrations/v1\x00"

_TX_COPY: Final = (
    "COPY txs (city, seq, height, id, kind, envelope, result, parties, balances)"
    " FROM STDIN (FORMAT BINARY)"
)
_TX_COPY_TYPES: Final = ["text", "int8", "int8", "text", "text", "bytea", "bytea", "bytea", "bytea"]
#: The constant parts of a transaction's Merkle leaf (blocks.leaf_bytes), with the
#: RFC 6962 leaf prefix 0x00 in front: 0x00 {"result": <result> ,"tx": <envelope> }.
_LEAF_PARTS: Final = (b'\x00{"result":', b',"tx":', b"}")
_STATE_UPSERT: Final = (
    "INSERT INTO state (city, key, value, height)"
    " SELECT %b, k, v, %b FROM unnest(%b::text[], %b::bytea[]) AS u (k, v)"
    " ON CONFLICT (city, key) DO UPDATE SET value = excluded.value, height = excluded.height"
)
# A loose index scan over the blocks' primary key: one probe per city, not per block.
_CITIES: Final = """
WITH RECURSIVE c (city) AS (
    (SELECT city FROM blocks ORDER BY city LIMIT 1)
    UNION ALL
    SELECT (SELECT b.city FROM blocks b WHERE b.city > c.city ORDER BY b.city LIMIT 1)
    FROM c WHERE c.city IS NOT NULL
)
SELECT city FROM c
WHERE city IS NOT NULL AND EXISTS (SELECT 1 FROM blocks b WHERE b.city = c.city AND b.height = 0)
ORDER BY city
"""
_LOCK_HOLDER: Final = """
SELECT a.pid, a.application_name, host(a.client_addr),
       to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1
"""

Row = tuple[Any, ...]
Connection = psycopg.Connection[Row]


def advisory_key(namespace: bytes, name: str) -> int:
    """A stable signed 64-bit advisory lock key: the first 8 bytes of sha256."""
    digest = hashlib.sha256(namespace + name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lease_key(city: str) -> int:
    return advisory_key(LEASE_NAMESPACE, city)


MIGRATION_KEY: Final = advisory_key(MIGRATION_NAMESPACE, "schema")


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


@functools.lru_cache(maxsize=512)
def pg_text(query: str) -> str:
    """The qmark text of queries.py and the repositories in psycopg's placeholders:
    each `?` becomes `%s` (a literal `%` is doubled), once per distinct text."""
    return query.replace("%", "%%").replace("?", "%s")


class _Session:
    """A connection and the lock that keeps its transactions from interleaving."""

    __slots__ = ("__weakref__", "conn", "lock")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    @property
    def usable(self) -> bool:
        return not (self.conn.closed or self.conn.broken)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def __del__(self) -> None:  # a thread's reader, when the thread ends
        self.close()


def _masked(url: str) -> str:
    """scheme://user:***@host:port/dbname, for a URL libpq cannot parse (query dropped)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable PostgreSQL URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{parts.scheme}://{userinfo}{at}{hostport}{parts.path}"


class _Target:
    """Where the store points, said without the password."""

    def __init__(self, url: str) -> None:
        self.url = url
        split_password = ""
        with contextlib.suppress(ValueError):
            split_password = urlsplit(url).password or ""
        self.secrets = [s for s in {split_password, unquote(split_password)} if s]
        try:
            params = conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(
                f"{_masked(url)}: invalid PostgreSQL URL: {self.scrub(str(exc))}"
            ) from None
        password = params.get("password")
        if password:
            self.secrets.append(str(password))
        user = params.get("user") or ""
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = f":{params['port']}" if params.get("port") else ""
        self.where = (
            f"postgresql://{f'{user}@' if user else ''}{host}{port}/{params.get('dbname') or ''}"
        )
        self.options: dict[str, Any] = {}
        if "connect_timeout" not in params:
            self.options["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in params:
            self.options["application_name"] = "localpay"

    def scrub(self, text: str) -> str:
        """The text with the URL and any password in it masked."""
        text = text.replace(self.url, "<store URL>")
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def error(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"{self.where}: {what}: {self.scrub(str(exc))}")


class PostgresStore(ChainQueries):
    dialect = "postgres"

    #: Leaf hashes fetched per query by leaf_hashes (32 bytes each, hashed by the server).
    hash_page_rows: ClassVar[int] = 20_000

    def __init__(self, url: str) -> None:
        self._target = _Target(url)
        self._lock = threading.Lock()
        self._closed = False
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Session] = weakref.WeakSet()
        self._leases: dict[str, _Session] = {}
        self._writer: _Session | None = None
        session = self._writer_session()
        try:
            with session.lock:
                self._migrate(session.conn)
        except psycopg.Error as exc:
            self.close()
            raise self._target.error("cannot prepare the schema", exc) from None
        except RuntimeError as exc:  # migrate: schema newer than this code
            self.close()
            raise StoreError(f"{self._target.where}: {exc}") from None

    def __repr__(self) -> str:
        return f"PostgresStore({self._target.where!r})"

    # -- connections -------------------------------------------------------------------

    def _connect(self, role: str = "reader") -> Connection:
        """A new autocommit session, named (unless the URL names it) for pg_stat_activity."""
        if self._closed:
            raise StoreError(f"{self._target.where}: the store is closed")
        options = dict(self._target.options)
        if "application_name" in options:
            options["application_name"] = f"localpay {role}"
        try:
            return psycopg.connect(self._target.url, autocommit=True, **options)
        except psycopg.Error as exc:
            raise self._target.error("cannot connect", exc) from None

    def _open_writer(self, role: str = "writer") -> _Session:
        """A connection that writes: durable commits, never dropped for idling."""
        conn = self._connect(role)
        try:
            if conn.info.server_version >= 140000:
                conn.execute("SET idle_session_timeout = 0")
            conn.execute("SET idle_in_transaction_session_timeout = 0")
            row = conn.execute("SHOW synchronous_commit").fetchone()
            if row is not None and row[0] == "off":
                conn.execute("SET synchronous_commit = on")
        except psycopg.Error as exc:
            conn.close()
            raise self._target.error("cannot set up a writer session", exc) from None
        return _Session(conn)

    def _writer_session(self) -> _Session:
        with self._lock:
            if self._writer is None or not self._writer.usable:
                if self._writer is not None:
                    self._writer.close()
                self._writer = self._open_writer()
            return self._writer

    def _reader(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is None or not session.usable:
            if session is not None:
                session.close()
            session = _Session(self._connect())
            self._local.session = session
            with self._lock:
                self._readers.add(session)
        return session

    def _read(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        """Run one read; a reader whose connection had dropped is replaced once."""
        for attempt in (1, 2):
            session = self._reader()
            try:
                with session.conn.cursor(binary=True) as cur:
                    cur.execute(query, params)
                    return cur.fetchall()
            except psycopg.OperationalError as exc:
                if attempt == 1 and session.conn.broken:
                    continue
                raise self._target.error("read failed", exc) from None
            except psycopg.Error as exc:
                raise self._target.error("read failed", exc) from None
        raise AssertionError("unreachable")

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        return self._read(pg_text(query), params)

    # -- the runner: for this package's repositories (adapters/sql/runner.py) ------------

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """One statement (qmark placeholders) in its own transaction; rows if any."""
        return self.sql_batch([(query, params)])[-1]

    def sql_batch(self, statements: list[Statement]) -> list[list[Row]]:
        """Several statements in one transaction: all or none."""
        session = self._reader()
        out: list[list[Row]] = []
        try:
            with session.conn.transaction(), session.conn.cursor() as cur:
                for query, params in statements:
                    cur.execute(pg_text(query), params)
                    rows = cur.fetchall() if cur.description else []
                    out.append([tuple(_plain(v) for v in row) for row in rows])
        except psycopg.errors.UniqueViolation as exc:
            raise StoreConflict(self._target.scrub(str(exc))) from None
        except psycopg.Error as exc:
            raise self._target.error("statement failed", exc) from None
        return out

    def _migrate(self, conn: Connection) -> None:
        # One transaction under a transaction-level advisory lock: two processes
        # starting on a fresh database apply each migration exactly once.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, script in migrate.pending(applied, self.dialect):
                for statement in migrate.statements(script):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )

    # -- lease -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, city: str) -> Iterator[None]:
        key = lease_key(city)
        session = self._open_writer(f"lease {city}")
        try:
            # If this machine vanishes, the server notices within about a minute
            # (rather than hours of TCP timeout) and frees the lease.
            session.conn.execute("SET tcp_keepalives_idle = 30")
            session.conn.execute("SET tcp_keepalives_interval = 10")
            session.conn.execute("SET tcp_keepalives_count = 3")
            row = session.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            taken = row is not None and bool(row[0])
            holder = "" if taken else self._lock_holder(session.conn, key)
        except psycopg.Error as exc:
            session.close()
            raise self._target.error(f"cannot take the lease of city {city!r}", exc) from None
        if not taken:
            session.close()
            raise LeaseHeld(
                f"another sequencer is writing city {city!r} in {self._target.where}"
                f" (advisory lock {key}{holder}); stop it first"
            )
        with self._lock:
            self._leases[city] = session
        try:
            yield
        finally:
            with self._lock:
                if self._leases.get(city) is session:
                    del self._leases[city]
            with session.lock:
                with contextlib.suppress(psycopg.Error):
                    session.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                session.close()

    @staticmethod
    def _lock_holder(conn: Connection, key: int) -> str:
        """Who holds an advisory lock, as far as this role may see; best effort."""
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        try:
            row = conn.execute(_LOCK_HOLDER, (unsigned >> 32, unsigned & 0xFFFF_FFFF)).fetchone()
        except psycopg.Error:
            return ""
        if row is None:
            return ""
        pid, app, addr, since = row
        return (
            f", held by server pid {pid}"
            f" ({app or 'unnamed'} from {addr or 'a local socket'}, connected {since})"
        )

    # -- writes ------------------------------------------------------------------------

    def append_block(self, city: str, block: BlockRecord) -> None:
        height = block.header.height
        with self._lock:
            leased = self._leases.get(city)
        if leased is not None and not leased.usable:
            raise StoreError(self._lease_lost(city, height, "nothing was written"))
        for attempt in (1, 2):
            session = leased or self._writer_session()
            with session.lock:
                committing = False
                try:
                    with session.conn.transaction():
                        self._write(session.conn, city, block)
                        committing = True  # what fails from here on failed in COMMIT
                    return
                except psycopg.Error as failed:
                    exc = failed
                    committed = "its outcome is unknown" if committing else "nothing was written"
            reason = self._target.scrub(str(exc))
            if not session.conn.broken:
                message = f"block {height} of city {city!r} refused, {committed}"
                raise StoreError(f"{self._target.where}: {message}: {reason}") from exc
            if leased is not None:
                raise StoreError(self._lease_lost(city, height, f"{committed} ({reason})")) from exc
            if attempt == 2 or committed != "nothing was written":
                message = f"connection lost writing block {height} of city {city!r}, {committed}"
                raise StoreError(f"{self._target.where}: {message} ({reason})") from exc
            # The shared writer had dropped before this block reached it: one more try.
        raise AssertionError("unreachable")

    @staticmethod
    def _write(conn: Connection, city: str, block: BlockRecord) -> None:
        height = block.header.height
        # A key written twice in one block keeps its last value, as sequential upserts do.
        state = dict(block.state)
        with conn.cursor() as cur:
            cur.execute(pg_text(q.INSERT_BLOCK), block_row(city, block))
            if block.txs:
                with cur.copy(_TX_COPY) as copy:
                    copy.set_types(_TX_COPY_TYPES)
                    for t in block.txs:
                        copy.write_row(tx_row(city, t))
            if state:
                cur.execute(_STATE_UPSERT, (city, height, list(state), list(state.values())))
            if block.retired:
                cur.execute(
                    "DELETE FROM state WHERE city = %s AND key = ANY(%s)", (city, block.retired)
                )

    def _lease_lost(self, city: str, height: int, outcome: str) -> str:
        return (
            f"{self._target.where}: the lease session of city {city!r} was lost, so its lease"
            f" may be another sequencer's now; block {height}: {outcome}. Restart the sequencer."
        )

    # -- reads: queries.py through chain.ChainQueries, but for what differs -----------

    def cities(self) -> list[str]:
        return [r[0] for r in self._read(_CITIES, ())]

    # -- transparency: leaf hashes, hashed by the server ------------------------------------

    def leaf_hashes(self, city: str, start: int, end: int) -> list[bytes]:
        """RFC 6962 leaf hashes of seq in [start, end), contiguous from start.

        The server hashes each leaf (sha256 of 0x00 || leaf bytes, the leaf as
        blocks.leaf_bytes makes it), so only 32 bytes per transaction cross the wire.
        """
        out: list[bytes] = []
        while start + len(out) < end:
            first = start + len(out)
            rows = self._read(
                "SELECT seq, sha256(%s || result || %s || envelope || %s) FROM txs"
                " WHERE city = %s AND seq >= %s AND seq < %s ORDER BY seq LIMIT %s",
                (*_LEAF_PARTS, city, first, end, self.hash_page_rows),
            )
            for seq, digest in rows:
                if seq != start + len(out):
                    return out  # a hole: the log is only known up to it
                out.append(bytes(digest))
            if len(rows) < self.hash_page_rows:
                break
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sessions: Iterable[_Session] = [
                *([self._writer] if self._writer else []),
                *self._leases.values(),
                *list(self._readers),
            ]
            self._writer = None
            self._leases.clear()
            self._readers = weakref.WeakSet()
        for session in sessions:
            session.close()
        self._local = threading.local()
