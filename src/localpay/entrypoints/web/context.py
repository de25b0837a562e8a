"""What every page knows: its language, senior mode, the CSRF token, who is signed in."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from localpay.entrypoints.web import i18n
from localpay.entrypoints.web.security import LANG_COOKIE, SENIOR_COOKIE, csrf_token
from localpay.services.identity.service import SESSION_COOKIE, Principal


def language(request: Request) -> str:
    return i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def senior(request: Request) -> bool:
    return request.cookies.get(SENIOR_COOKIE) == "1"


def principal(request: Request) -> Principal | None:
    """The person signed in on this browser (the session cookie), once per request."""
    if "localpay_principal" not in request.scope:
        token = request.cookies.get(SESSION_COOKIE)
        identity = request.app.state.container.identity
        request.scope["localpay_principal"] = identity.authenticate(token) if token else None
    found: Principal | None = request.scope["localpay_principal"]
    return found


def say(request: Request, message: str, **variables: Any) -> str:
    """A message in the page's language, for text made in Python (errors, titles)."""
    text = i18n.translations(language(request)).gettext(message)
    return text % variables if variables else text


def page_context(request: Request) -> dict[str, Any]:
    lang = language(request)
    return {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "ko" else "ko",
        "senior": senior(request),
        "csrf": csrf_token(request),
        "principal": principal(request),
        "path": request.url.path,
        "query": request.url.query,
    }
