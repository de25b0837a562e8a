"""Idempotency-Key on every POST: a repeat gets the original response, never a second effect.

The key is scoped to the caller's credentials (or to anonymous callers as a whole:
citizens' signed commands need no token, so their keys must be random, e.g. UUIDs).
A response is recorded durably *before* it is sent: records are group-committed to
the `idempotency` table by one writer thread (every request waiting at that moment
shares one commit), and the answer leaves only once its record is on disk, so a
`kill -9` after an answer can never lose it. Server errors, overload and timeouts
(5xx, 429) are not answers and are not recorded: a retry runs again, and the effects
underneath are idempotent on their own (signed commands by their id; server-built
commands by an id derived from the principal and this key, services/cities/command_ids.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localpay.domain.limits import BODY_BYTES_MAX, IDEMPOTENCY_FLUSH_MAX, IDEMPOTENCY_KEY_MAX
from localpay.entrypoints.api.middleware.response_cache import ResponseCache
from localpay.entrypoints.api.problems import api_problem
from localpay.ledger.seen import SeenIds
from localpay.services.idempotency.ports import Answer, IdempotencyRepository

HEADER: Final = b"idempotency-key"
#: Completed responses remembered in memory, at most so many and so many bytes (the
#: table keeps them all; memory only spares a read for the retries that come soon).
MEMORY_RECORDS: Final = 20_000
MEMORY_BYTES: Final = 16 * 1024 * 1024
#: The API's paths. The web pages' forms carry their own idempotency key in a hidden field
#: and a CSRF token (entrypoints/web/security.py): the browser sends no header.
API_PREFIX: Final = "/v1/"
#: POSTs that need no key: signing in makes a new session each time by nature.
EXEMPT_SUFFIXES: Final = (
    "/v1/auth/login",
    "/v1/auth/logout",
    "/challenges",
    "/sessions",
    # A witness cosigning the same checkpoint again changes nothing: naturally idempotent.
    "/cosignatures",
    # Reading a scanned QR code writes nothing: a read that POSTs only for its body.
    "/qr/read",
)


log = structlog.get_logger("localpay.entrypoints.api")

#: Told once the record is durable (None) or could not be written (the error).
Durable = Callable[[BaseException | None], None]


@dataclass(frozen=True)
class Record:
    request_hash: str
    status: int
    body: bytes
    media_type: str


_SHOWN_ONCE_BODY: Final = (
    b'{"type":"urn:localpay:problem:idempotency_secret_shown_once","title":"the original'
    b' response held a secret that is shown only once","status":409,'
    b'"code":"idempotency_secret_shown_once","detail":"if it was lost, revoke it and make'
    b' a new one"}'
)


def _shown_once(request_hash: str) -> Record:
    """What is kept of an answer that held a secret: never the secret, only this problem."""
    return Record(request_hash, 409, _SHOWN_ONCE_BODY, "application/problem+json")


def scope_of(scope: Scope) -> str:
    """Whose key this is: a digest of the credentials sent, or 'anonymous'."""
    for name, value in scope["headers"]:
        if name in (b"authorization", b"cookie"):
            return hashlib.sha256(value).hexdigest()[:32]
    return "anonymous"


class Records:
    """Memory first, then the table; new records are group-committed before answering.

    Most keys are new: a filter of every key ever recorded (read from the table at start,
    then added to by `put`) answers "never recorded" without a look-up, which cost a
    worker thread and a query per POST (on PostgreSQL ~20 % of the server's CPU per
    payment). One server serves a store (its sequencers hold the cities' leases), so no
    other process records keys meanwhile; a "maybe" is settled by the table."""

    def __init__(self, answers: IdempotencyRepository, clock: Any) -> None:
        self.answers = answers
        self.clock = clock
        self.memory: ResponseCache[Record] = ResponseCache(MEMORY_RECORDS, MEMORY_BYTES)
        self.seen = SeenIds.of(_seen(who, key) for who, key in answers.recorded())
        self.pending: list[tuple[str, str, Record, Durable | None]] = []
        self.wake = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._writer, name="idempotency", daemon=True)
        self.thread.start()

    def remembered(self, who: str, key: str) -> Record | None:
        with self.wake:
            return self.memory.get((who, key))

    def may_be_recorded(self, who: str, key: str) -> bool:
        """False only for a key certainly never recorded (in memory or in the table)."""
        with self.wake:
            return _seen(who, key) in self.seen

    def get(self, who: str, key: str) -> Record | None:
        found = self.remembered(who, key)
        if found is not None:
            return found
        if not self.may_be_recorded(who, key):
            return None
        stored = self.answers.find(who, key)
        return Record(*stored) if stored is not None else None

    def put(self, who: str, key: str, record: Record, durable: Durable | None = None) -> None:
        """Remember `record`; `durable` is called from the writer thread once it is on disk."""
        with self.wake:
            self.seen.add(_seen(who, key))
            self.memory.put((who, key), record)
            self.pending.append((who, key, record, durable))
            self.wake.notify()

    def _writer(self) -> None:
        while True:
            with self.wake:
                while not self.pending and not self.closing:
                    self.wake.wait()
                if not self.pending:
                    return
                batch = self.pending[:IDEMPOTENCY_FLUSH_MAX]
                del self.pending[:IDEMPOTENCY_FLUSH_MAX]
            error = self._write(batch)
            for *_, durable in batch:
                if durable is not None:
                    durable(error)

    def _write(self, batch: list[tuple[str, str, Record, Durable | None]]) -> BaseException | None:
        if not batch:
            return None
        now = self.clock()
        rows = [
            Answer(w, k, r.request_hash, r.status, r.body, r.media_type, now)
            for w, k, r, _ in batch
        ]
        try:
            self.answers.keep(rows)  # a key recorded by an earlier process keeps the first
        except Exception as exc:  # the answers still go out; retries stay safe underneath
            log.error("idempotency_record_failed", error=str(exc), records=len(rows))
            return exc
        return None

    def close(self) -> None:
        with self.wake:
            self.closing = True
            self.wake.notify_all()
        self.thread.join(timeout=5)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, records: Records) -> None:
        self.app = app
        self.records = records
        self.inflight: dict[tuple[str, str], tuple[str, asyncio.Event]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not str(scope["path"]).startswith(API_PREFIX)
            or str(scope["path"]).endswith(EXEMPT_SUFFIXES)
        ):
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        if not key or len(key) > IDEMPOTENCY_KEY_MAX or not all(33 <= ord(ch) <= 126 for ch in key):
            detail = (
                f"send a unique Idempotency-Key of 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII"
                " characters"
            )
            await api_problem("idempotency_key_missing", detail)(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await api_problem("body_too_large", f"at most {BODY_BYTES_MAX} bytes")(
                scope, receive, send
            )
            return
        if b"\\u0000" in body or b"\x00" in body:
            await api_problem("validation_failed", "NUL characters are not allowed")(
                scope, receive, send
            )
            return
        digest = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
        who = scope_of(scope)
        running = self.inflight.get((who, key))
        if running is not None:  # a concurrent duplicate: wait and answer as the first
            if running[0] != digest:
                await api_problem("idempotency_key_reused")(scope, receive, send)
                return
            await running[1].wait()
        else:
            # Claim the key before any await, so a concurrent duplicate waits for us.
            event = asyncio.Event()
            self.inflight[(who, key)] = (digest, event)
            try:
                await self._first(who, key, digest, scope, body, receive, send)
            finally:
                del self.inflight[(who, key)]
                event.set()
            return
        await self._replay(who, key, digest, scope, receive, send)

    async def _first(
        self,
        who: str,
        key: str,
        digest: str,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        record = self.records.remembered(who, key)
        if record is None and self.records.may_be_recorded(who, key):
            # Not in memory but maybe in the table: ask it, off the event loop.
            record = await asyncio.to_thread(self.records.get, who, key)
        if record is not None:
            await self._answer(record, digest, scope, receive, send)
            return
        status, headers, answer, secret = await self._run(scope, body)
        media_type = _content_type(headers)
        # Overload and server errors are not answers: let the client retry them.
        if status < 500 and status != 429:
            # Never keep a secret at rest: a replay says it was shown once.
            stored = _shown_once(digest) if secret else Record(digest, status, answer, media_type)
            await self._durably(who, key, stored)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _durably(self, who: str, key: str, record: Record) -> None:
        """Record the answer and wait until it is on disk, then it may be sent."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()

        def durable(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle_once, written)

        self.records.put(who, key, record, durable)
        await written

    async def _replay(
        self, who: str, key: str, digest: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        record = self.records.remembered(who, key)
        if record is None:
            record = await asyncio.to_thread(self.records.get, who, key)
        if record is None:  # the first attempt failed without an answer: try again
            await api_problem("idempotency_key_in_flight", "retry")(scope, receive, send)
            return
        await self._answer(record, digest, scope, receive, send)

    async def _answer(
        self, record: Record, digest: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if record.request_hash != digest:
            await api_problem(
                "idempotency_key_reused", "this key was used with a different request"
            )(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": record.status,
                "headers": [
                    (b"content-type", record.media_type.encode()),
                    (b"idempotent-replayed", b"true"),
                    (b"content-length", str(len(record.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": record.body})

    async def _run(
        self, scope: Scope, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Run the app on the buffered body; keep its whole answer to record it first."""
        sent = False
        status, headers, chunks, secret = 500, [], [], False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, headers, secret
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                secret = any(n == b"cache-control" and b"no-store" in v for n, v in headers)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        return status, headers, b"".join(chunks), secret


def _seen(who: str, key: str) -> str:
    """The filter's entry for a key in its scope (a key holds no newline: visible ASCII)."""
    return f"{who}\n{key}"


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"content-type":
            return value.decode("latin-1")
    return "application/json"


def _settle_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it passes the size limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_BYTES_MAX:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
