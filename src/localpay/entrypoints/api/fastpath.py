"""The lean path for signed commands: POST /v1/cities/{city}/<kind> without FastAPI's router.

A signed payment is the API's hottest request. FastAPI spent much of its time on it in
matching the path against every route, solving the route's dependencies and running its
exception and exit-stack middleware (without them the event loop spends about 40 % less
CPU per payment: docs/benchmarks.md), none of which a signed command needs: its body is
read as bytes and checked by the ledger's own decoder, and its signature is its
authentication.

This is the innermost middleware: everything outside it still runs for these requests as
for every other (telemetry, rate limits, body limit, idempotency: app.py). It answers a
POST whose path is a signed-command route (routers/commands.py, SIGNED_ROUTES) by calling
the same `submit` the FastAPI route calls, renders problems as the app's exception
handlers do, and records the matched route in the scope as Starlette's router does, so
metrics and logs name the route template. Anything else goes on to FastAPI. The FastAPI
routes stay registered: they are the OpenAPI description of these operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from localpay.domain.errors import LocalpayError
from localpay.entrypoints.api.problems import ApiProblem, api_problem, error_problem
from localpay.entrypoints.api.routers.commands import SIGNED_ROUTES, submit

#: Every signed-command route's template is PREFIX + "{city}/" + the rest of its path.
PREFIX: Final = "/v1/cities/"


class _ClientGone(Exception):
    """The client disconnected before its body was complete."""


class SignedCommandRoutes:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        #: Last path segment -> (the kinds of command it takes, its FastAPI route).
        self.by_segment: dict[str, tuple[frozenset[str], BaseRoute]] = {}
        for route in routes:
            path = route.path if isinstance(route, Route) else None
            if path is None or path not in SIGNED_ROUTES:
                continue
            segment = path.removeprefix(PREFIX + "{city}/")
            assert path == f"{PREFIX}{{city}}/{segment}", path
            self.by_segment[segment] = (SIGNED_ROUTES[path], route)
        assert len(self.by_segment) == len(SIGNED_ROUTES), "a signed route is not registered"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._match(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        city, kinds, route = found
        # As Starlette's router: the route (metrics and logs name its template) and params.
        scope["route"] = route
        scope["path_params"] = {"city": city}
        try:
            data = await _body(receive)
            response = await submit(HTTPConnection(scope), data, city, kinds)
        except _ClientGone:  # half a request is no request: nothing runs
            return
        except ApiProblem as exc:
            response = api_problem(exc.code, exc.detail, exc.headers)
        except LocalpayError as exc:
            response = error_problem(exc)
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[str, frozenset[str], BaseRoute] | None:
        """(city, kinds, route) when this is a POST to a signed-command route, else None.

        Starlette matches `{city}` as `[^/]+` on the decoded path; so does this. A server
        mounted under a root path goes through FastAPI, which knows how to strip it."""
        path: str = scope["path"]
        if scope["method"] != "POST" or scope.get("root_path") or not path.startswith(PREFIX):
            return None
        city, slash, segment = path[len(PREFIX) :].partition("/")
        entry = self.by_segment.get(segment) if city and slash else None
        if entry is None:
            return None
        return city, entry[0], entry[1]


async def _body(receive: Receive) -> bytes:
    """The whole body (the idempotency and body-limit middleware have bounded it)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
