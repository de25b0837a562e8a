"""The principal behind a request: a bearer token (session or API key) or the session cookie."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request

from localpay.entrypoints.api.problems import ApiProblem
from localpay.services.identity.service import Principal

SESSION_COOKIE: Final = "localpay_session"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


def principal_of(request: Request) -> Principal | None:
    """Authenticate once per request; None for anonymous callers."""
    if "principal" not in request.scope.setdefault("state", {}):
        token = _token(request)
        found = request.app.state.container.identity.authenticate(token) if token else None
        request.scope["state"]["principal"] = found
    principal: Principal | None = request.scope["state"]["principal"]
    return principal


def require(request: Request) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise ApiProblem(
            "unauthenticated", "send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
        )
    return principal


def allow(request: Request, rule: Callable[[Principal], bool]) -> Principal:
    """The principal if `rule` allows it. Not allowed anywhere answers 403; but a principal
    of another city gets 404, so ids of one tenant never confirm anything to another."""
    principal = require(request)
    if not rule(principal):
        city = request.path_params.get("city")
        if city is not None and principal.city != city:
            raise ApiProblem("not_found", "no such resource")
        raise ApiProblem("forbidden", f"a {principal.role} may not do this")
    return principal
