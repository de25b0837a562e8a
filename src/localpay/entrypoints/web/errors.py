"""Errors on pages: a plain-words page in the visitor's language, never a stack trace.

The API keeps its problem+json answers: `install` wraps the app's handlers so that only
requests for pages (not under the API's paths) get HTML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from localpay.domain.errors import Conflict, LocalpayError, NotFound, Refused, Unavailable
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.security import CsrfRefused

#: Paths that belong to the API and operations, whose errors stay problem+json.
API_PATHS: Final = ("/v1/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc")

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


class SignInNeeded(Exception):
    """The page needs a person signed in: to `sign_in`, then back to `target`."""

    def __init__(self, sign_in: str, target: str) -> None:
        super().__init__(target)
        self.sign_in = sign_in
        self.target = target


class PageError(Exception):
    """A page cannot be shown: `status` and a message id of the catalogs."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PATHS)


def _status_of(exc: Exception) -> tuple[int, str]:
    # The message ids are in the catalogs (locale/*/messages.po); gettext in error.html.
    if isinstance(exc, PageError):
        return exc.status, exc.message
    if isinstance(exc, CsrfRefused):
        return 403, N_("This form has expired. Go back, reload the page and try again.")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, N_("There is no such page.")
        if exc.status_code == 405:
            return 405, N_("This page cannot be used that way.")
        return exc.status_code, N_("Something went wrong. Please try again.")
    if isinstance(exc, NotFound):
        return 404, N_("There is no such page.")
    if isinstance(exc, Unavailable):
        return 503, N_("The service is busy. Please try again in a moment.")
    if isinstance(exc, Refused | Conflict):
        return 409, N_("This cannot be done now.")
    return 500, N_("Something went wrong. Please try again.")


def error_page(request: Request, exc: Exception) -> Response:
    from localpay.entrypoints.web.render import page  # noqa: PLC0415 (render imports us)

    status, message = _status_of(exc)
    response = page(request, "error.html", {"status": status, "message": message}, status=status)
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def install_errors(app: FastAPI) -> None:
    """Pages get HTML errors; the API's requests go to the handlers it installed."""
    for kind in (HTTPException, LocalpayError):
        previous = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _either(previous))
    for page_only in (PageError, CsrfRefused):
        app.add_exception_handler(page_only, _pages_only)
    app.add_exception_handler(SignInNeeded, _to_sign_in)


def _either(previous: Handler | None) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_page(request) or previous is None:
            return error_page(request, exc)
        answer = previous(request, exc)
        return await answer if isinstance(answer, Awaitable) else answer

    return handle


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    return RedirectResponse(f"{exc.sign_in}?{urlencode({'next': exc.target})}", status_code=303)


async def _pages_only(request: Request, exc: Exception) -> Response:
    return error_page(request, exc)
