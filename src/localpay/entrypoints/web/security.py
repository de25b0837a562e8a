"""Cookies of the web pages and CSRF protection for every form.

A person's session is the identity service's session token in an HttpOnly cookie (the one
the API reads too). Forms are protected by a synchronizer token: a random value kept in
an HttpOnly, SameSite=Strict cookie and rendered into each form (and into htmx requests'
`X-CSRF-Token` header); a POST whose token does not match the cookie is refused before it
does anything. A foreign site can neither read the cookie nor the page, so it cannot
forge the token. The Origin header, when the browser sends one, must be our own too.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from localpay.domain.errors import Refused
from localpay.services.identity.service import SESSION_COOKIE

CSRF_COOKIE: Final = "localpay_csrf"
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
LANG_COOKIE: Final = "localpay_lang"
SENIOR_COOKIE: Final = "localpay_senior"
#: Preferences are remembered per device for a year.
PREFERENCE_AGE_S: Final = 365 * 24 * 3600


class CsrfRefused(Refused):
    """The form's token is missing or not this browser's: nothing is done."""


def secure(request: Request) -> bool:
    """Cookies are Secure whenever the page came over TLS (directly or via a proxy that
    says so; uvicorn's --proxy-headers sets the scheme)."""
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """This browser's token; a new one (set on the response by `finish`) on its first page."""
    token = request.cookies.get(CSRF_COOKIE) or request.scope.get("localpay_new_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.scope["localpay_new_csrf"] = token
    return str(token)


#: Pages run only our own scripts, from files (no inline script, no eval): a wallet holds
#: its key in the browser, so an injected script must find nowhere to run. WebAssembly
#: (the QR decoder) needs 'wasm-unsafe-eval'; styles may be inline (htmx and uPlot set them).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def finish(request: Request, response: Response) -> Response:
    """Set what every page answer needs: a new CSRF token's cookie, the content security
    policy, and no caching (pages show people's money)."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    new = request.scope.get("localpay_new_csrf")
    if new:
        response.set_cookie(
            CSRF_COOKIE, new, httponly=True, secure=secure(request), samesite="strict", path="/"
        )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def check_csrf(request: Request) -> None:
    """Raise CsrfRefused unless the POST carries this browser's token from our own origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise CsrfRefused(f"a form from {origin!r}")
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else ""
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused("the form's token is not this browser's")


def set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=secure(request), samesite="strict", path="/"
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def set_preference(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=PREFERENCE_AGE_S,
        httponly=True,
        secure=secure(request),
        samesite="lax",
        path="/",
    )


def safe_next(target: str | None, fallback: str = "/") -> str:
    """A redirect target of our own: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    return target
