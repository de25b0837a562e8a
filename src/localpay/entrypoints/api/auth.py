"""The credentials a request carries: a bearer token (session or API key) or the session
cookie. Who they belong to is found in deps.py (`principal_of`)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from localpay.services.identity.service import SESSION_COOKIE

__all__ = ["SESSION_COOKIE", "token_of"]


def token_of(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)
