"""Typed FastAPI dependencies: what a route needs, by name, instead of reaching into
`request.app.state.container`.

A route declares `ledgers: LedgersDep` or `viewer: Viewer` and FastAPI provides it. The
plain functions (`container_of`, `principal_of`, `require`, `allow`, `known_city`) serve
code that runs outside FastAPI's dependency machinery too: the middleware and the lean
path for signed commands (fastpath.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from localpay.bootstrap import Container
from localpay.entrypoints.api.auth import token_of
from localpay.entrypoints.api.problems import ApiProblem
from localpay.ledger.ports import Store
from localpay.services.approvals.service import Proposals
from localpay.services.cities.ledgers import Ledgers
from localpay.services.identity.service import Identity, Principal
from localpay.services.transparency.service import Transparency

# -- the container and its services ---------------------------------------------------------


def container_of(request: HTTPConnection) -> Container:
    container: Container = request.app.state.container
    return container


def store_of(request: Request) -> Store:
    return container_of(request).store


def ledgers_of(request: Request) -> Ledgers:
    return container_of(request).ledgers


def identity_of(request: Request) -> Identity:
    return container_of(request).identity


def proposals_of(request: Request) -> Proposals:
    return container_of(request).proposals


_lock = threading.Lock()


def transparency_of(request: HTTPConnection) -> Transparency:
    """The container's Transparency service; made (and started) on first use if the
    container was not started (an app over a container that serves no sequencers)."""
    container = container_of(request)
    found: Transparency | None = getattr(container, "transparency", None)
    if found is not None:
        return found
    state = request.app.state
    with _lock:
        found = getattr(state, "transparency", None)
        if found is None:
            found = Transparency(container.store, container.ledgers).start()
            container.on_close(found.close)
            state.transparency = found
    return found


ContainerDep = Annotated[Container, Depends(container_of)]
StoreDep = Annotated[Store, Depends(store_of)]
LedgersDep = Annotated[Ledgers, Depends(ledgers_of)]
IdentityDep = Annotated[Identity, Depends(identity_of)]
ProposalsDep = Annotated[Proposals, Depends(proposals_of)]
TransparencyDep = Annotated[Transparency, Depends(transparency_of)]


def known_city(container: Container, city: str) -> None:
    """404 unless the installation has `city`. Called in the route's body, not declared as
    a dependency: where a route checks access first, that order is part of its answers."""
    if not container.has_city(city):
        raise ApiProblem("not_found", f"no city {city!r}")


# -- the principal --------------------------------------------------------------------------


def principal_of(request: HTTPConnection) -> Principal | None:
    """Authenticate once per request; None for anonymous callers. The rate limiter reads
    the principal found here from the scope's state (middleware/ratelimit.py)."""
    state = request.scope.setdefault("state", {})
    if "principal" not in state:
        token = token_of(request)
        state["principal"] = container_of(request).identity.authenticate(token) if token else None
    principal: Principal | None = state["principal"]
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


#: The caller, or None when anonymous.
Viewer = Annotated[Principal | None, Depends(principal_of)]
#: The caller, who must be signed in (else 401).
SignedIn = Annotated[Principal, Depends(require)]
