"""The front door: cities, preferences (language, senior mode), staff sign-in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import principal, say
from localpay.entrypoints.web.deps import city_of, container
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.security import (
    LANG_COOKIE,
    SENIOR_COOKIE,
    check_csrf,
    end_session,
    finish,
    safe_next,
    set_preference,
    set_session,
)
from localpay.services.cities.inspect import city_head
from localpay.services.identity.service import MERCHANT_ROLES, AuthError, Principal, Throttled

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]


@router.get("/")
def index(request: Request) -> Response:
    box = container(request)
    cities = [city_head(box.store, city) for city in box.cities()]
    return page(request, "home.html", {"cities": cities})


@router.get("/c/{city}/")
def city_home(request: Request, city: str) -> Response:
    return page(request, "city.html", {"city": city_of(request, city)})


@router.post("/settings")
async def settings(request: Request, _: Csrf) -> Response:
    """One tap from every page: switch senior mode or the language, back to the same page."""
    form = await request.form()
    response = RedirectResponse(safe_next(forms.text(form, "next")), status_code=303)
    if forms.text(form, "senior") in ("0", "1"):
        set_preference(request, response, SENIOR_COOKIE, forms.text(form, "senior"))
    if forms.text(form, "lang") in ("ko", "en"):
        set_preference(request, response, LANG_COOKIE, forms.text(form, "lang"))
    return finish(request, response)


def landing(found: Principal) -> str:
    """Where a person goes after signing in: a shop's staff to their counter."""
    if found.role in MERCHANT_ROLES:
        return f"/c/{found.city}/counter/"
    return f"/c/{found.city}/explorer/"


@router.get("/c/{city}/login")
def login_form(request: Request, city: str, next: str = "") -> Response:
    return page(request, "login.html", {"city": city_of(request, city), "next": next})


@router.post("/c/{city}/login")
async def login(request: Request, city: str, _: Csrf) -> Response:
    summary = city_of(request, city)
    form = await request.form()
    username, password = forms.text(form, "username", max_length=64), forms.text(form, "password")
    code = forms.text(form, "totp", max_length=6) or None
    identity = container(request).identity
    try:
        token = identity.login(city, username, password, code)
    except Throttled as exc:
        error = say(request, "Too many tries. Wait %(s)s seconds.", s=exc.retry_after_s)
    except AuthError:
        error = say(request, "The user name, password or code is not right.")
    else:
        found = identity.authenticate(token)
        assert found is not None
        target = safe_next(forms.text(form, "next"), landing(found))
        response = RedirectResponse(target, status_code=303)
        set_session(request, response, token)
        return finish(request, response)
    context = {"city": summary, "next": forms.text(form, "next"), "error": error}
    return page(request, "login.html", {**context, "username": username}, status=401)


@router.post("/logout")
async def logout(request: Request, _: Csrf) -> Response:
    found = principal(request)
    token = request.cookies.get("localpay_session")
    if found is not None and token:
        container(request).identity.logout(token)
    target = f"/c/{found.city}/" if found is not None else "/"
    response = RedirectResponse(target, status_code=303)
    end_session(response)
    return finish(request, response)
