"""Idempotency-Key on every POST: a repeat gets the original response, never a second effect.

The key is scoped to the caller's credentials (or to anonymous callers as a whole:
citizens' signed commands need no token, so their keys must be random, e.g. UUIDs).
Records live in memory (bounded) and are written behind to the `idempotency` table
in batches, so a restart keeps them. If the process dies in the ~0.2 s before a
batch is written, a retry of a signed command still cannot apply twice: the ledger
answers its command id with the original receipt (marked `duplicate`).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localpay.api.problems import api_problem
from localpay.ledger.store import Store, StoreConflict

HEADER: Final = b"idempotency-key"
#: Keys longer than this, or with characters outside visible ASCII, are refused.
MAX_KEY: Final = 128
#: Largest request body accepted by any endpoint.
MAX_BODY_BYTES: Final = 64 * 1024
#: Completed responses remembered in memory (the table keeps them all).
MEMORY_RECORDS: Final = 200_000
FLUSH_SECONDS: Final = 0.2
#: POSTs that need no key: signing in makes a new session each time by nature.
EXEMPT_SUFFIXES: Final = (
    "/v1/auth/login",
    "/v1/auth/logout",
    "/challenges",
    "/sessions",
    # A witness cosigning the same checkpoint again changes nothing: naturally idempotent.
    "/cosignatures",
)


@dataclass(frozen=True)
class Record:
    request_hash: str
    status: int
    body: bytes
    media_type: str


_SHOWN_ONCE: Final = (
    409,
    "application/problem+json",
    b'{"type":"urn:localpay:problem:idempotency_secret_shown_once","title":"the original'
    b' response held a secret that is shown only once","status":409,'
    b'"code":"idempotency_secret_shown_once","detail":"if it was lost, revoke it and make'
    b' a new one"}',
)


def scope_of(scope: Scope) -> str:
    """Whose key this is: a digest of the credentials sent, or 'anonymous'."""
    for name, value in scope["headers"]:
        if name in (b"authorization", b"cookie"):
            return hashlib.sha256(value).hexdigest()[:32]
    return "anonymous"


class Records:
    """Memory first, then the table; new records are written behind in batches."""

    def __init__(self, store: Store, clock: Any) -> None:
        self.store = store
        self.clock = clock
        self.memory: collections.OrderedDict[tuple[str, str], Record] = collections.OrderedDict()
        self.pending: list[tuple[str, str, Record]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._flusher, name="idempotency", daemon=True)
        self.thread.start()

    def remembered(self, who: str, key: str) -> Record | None:
        with self.lock:
            return self.memory.get((who, key))

    def get(self, who: str, key: str) -> Record | None:
        found = self.remembered(who, key)
        if found is not None:
            return found
        rows = self.store.sql(
            "SELECT request_hash, status, body, media_type FROM idempotency"
            " WHERE scope = ? AND key = ?",
            (who, key),
        )
        return Record(rows[0][0], rows[0][1], bytes(rows[0][2]), rows[0][3]) if rows else None

    def put(self, who: str, key: str, record: Record) -> None:
        with self.lock:
            self.memory[(who, key)] = record
            if len(self.memory) > MEMORY_RECORDS:
                self.memory.popitem(last=False)
            self.pending.append((who, key, record))

    def _flusher(self) -> None:
        while not self.stop.wait(FLUSH_SECONDS):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if not batch:
            return
        now = self.clock()
        insert = (
            "INSERT INTO idempotency (scope, key, request_hash, status, body, media_type,"
            " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        try:
            self.store.sql_batch(
                [
                    (insert, (w, k, r.request_hash, r.status, r.body, r.media_type, now))
                    for w, k, r in batch
                ]
            )
        except StoreConflict:  # a key recorded by an earlier process: keep the first
            for w, k, r in batch:
                try:
                    self.store.sql(
                        insert, (w, k, r.request_hash, r.status, r.body, r.media_type, now)
                    )
                except StoreConflict:
                    continue

    def close(self) -> None:
        self.stop.set()
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
            or str(scope["path"]).endswith(EXEMPT_SUFFIXES)
        ):
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        if not key or len(key) > MAX_KEY or not all(33 <= ord(ch) <= 126 for ch in key):
            detail = f"send a unique Idempotency-Key of 1 to {MAX_KEY} visible ASCII characters"
            await api_problem("idempotency_key_missing", detail)(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await api_problem("body_too_large", f"at most {MAX_BODY_BYTES} bytes")(
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
        if record is None:  # not in memory: ask the table, off the event loop
            record = await asyncio.to_thread(self.records.get, who, key)
        if record is not None:
            await self._answer(record, digest, scope, receive, send)
            return
        status, media_type, answer, secret = await self._run(scope, body, send)
        if secret:  # never keep a secret at rest: a replay says it was shown once
            status, media_type, answer = _SHOWN_ONCE
        # Overload and server errors are not answers: let the client retry them.
        if status < 500 and status != 429:
            self.records.put(who, key, Record(digest, status, answer, media_type))

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

    async def _run(self, scope: Scope, body: bytes, send: Send) -> tuple[int, str, bytes, bool]:
        sent = False
        status, media_type, chunks, secret = 500, "application/json", [], False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, media_type, secret
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name == b"content-type":
                        media_type = value.decode("latin-1")
                    elif name == b"cache-control" and b"no-store" in value:
                        secret = True
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, capture)
        return status, media_type, b"".join(chunks), secret


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it passes the size limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
