"""One size limit for every request body, enforced before any route reads it.

The idempotency middleware bounds the POST bodies it buffers, but not those of the routes
it exempts (sign-in, challenges, sessions, cosignatures) nor of other methods: those were
read whole and parsed, so one 30 MiB sign-in cost the server its JSON parse and memory.
Here every body is refused with 413 past BODY_BYTES_MAX: at once when its Content-Length
says so (nothing of it is read), else as soon as the bytes read pass the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localpay.domain.limits import BODY_BYTES_MAX
from localpay.entrypoints.api.problems import api_problem


class _ClientGone(Exception):
    """The client disconnected before its body was complete."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int = BODY_BYTES_MAX) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        try:
            body = (
                None
                if declared is not None and declared > self.limit
                else await self._read(receive)
            )
        except _ClientGone:  # half a request is no request: nothing runs
            return
        if body is None:
            await api_problem("body_too_large", f"at most {self.limit} bytes")(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body was given: what comes next is the client's disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (the rest is never read)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server's HTTP parser refuses these; count the bytes then
                return None
    return None
