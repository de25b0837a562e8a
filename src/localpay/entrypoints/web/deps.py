"""What a page route needs: the container, a known city, the signed-in person."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from localpay.bootstrap import Container
from localpay.entrypoints.web.context import principal
from localpay.entrypoints.web.errors import PageError, SignInNeeded
from localpay.entrypoints.web.i18n import N_
from localpay.services.cities.inspect import city_head
from localpay.services.cities.views import CityHead
from localpay.services.identity.service import Principal


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def city_of(request: Request, city: str) -> CityHead:
    """The city of the page's path; 404 when this installation has none of that name."""
    box = container(request)
    if not box.has_city(city):
        raise PageError(404, N_("There is no such page."))
    return city_head(box.store, city)


def person(
    request: Request,
    city: str,
    rule: Callable[[Principal], bool],
    sign_in: str | None = None,
) -> Principal:
    """The signed-in person if `rule` allows them this page. Nobody signed in: to the
    sign-in page (`sign_in`, by default the staff's). Signed in elsewhere (another city,
    merchant or wallet) or not allowed: 404, so a page of one tenant never confirms
    anything to another."""
    found = principal(request)
    if found is None:
        raise SignInNeeded(sign_in or f"/c/{city}/login", request.url.path)
    if found.city != city or not rule(found):
        raise PageError(404, N_("There is no such page."))
    return found
