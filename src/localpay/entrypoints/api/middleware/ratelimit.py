"""Rate limits: token buckets per client address and per credential, in memory.

A credential's bucket is sized by its role: an auditor paging a city's history or a
merchant's POS needs more than a citizen's phone. The role is learnt from the request's
own authentication (the principal the route found), so limiting costs no store look-up;
a credential not seen yet, or not valid, gets the citizens' bucket. One process serves a
city, so in-memory buckets are exact there; behind several processes each enforces its
share. Over the limit: 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from localpay.domain.limits import RATE_BUCKETS_MAX
from localpay.entrypoints.api.problems import api_problem
from localpay.services.identity.service import CITY_STAFF, MERCHANT_ROLES, Principal


@dataclass(frozen=True)
class Limits:
    """Requests per second and burst, per client address and per credential by role."""

    per_ip_rate: float = 2000.0
    per_ip_burst: float = 4000.0
    #: Citizens, and any credential whose role is not known (yet).
    per_credential_rate: float = 50.0
    per_credential_burst: float = 200.0
    #: Merchant staff and merchant API keys (a shop's server, a POS).
    merchant_rate: float = 100.0
    merchant_burst: float = 400.0
    #: City staff (auditors page whole histories) and operator administrators.
    staff_rate: float = 500.0
    staff_burst: float = 2000.0

    def by_class(self) -> dict[str, tuple[float, float]]:
        """(rate, burst) of each class of credential (see class_of)."""
        return {
            "citizen": (self.per_credential_rate, self.per_credential_burst),
            "merchant": (self.merchant_rate, self.merchant_burst),
            "staff": (self.staff_rate, self.staff_burst),
        }


def class_of(role: str) -> str:
    """Which bucket a role's credentials draw from."""
    if role in CITY_STAFF or role == "operator_admin":
        return "staff"
    if role in MERCHANT_ROLES:
        return "merchant"
    return "citizen"


@dataclass
class _Bucket:
    tokens: float
    stamp: float = field(default_factory=time.monotonic)


class Buckets:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, _Bucket] = {}

    def take(self, who: str, now: float) -> float:
        """0 if allowed, else the seconds to wait for the next token."""
        bucket = self.buckets.pop(who, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self.buckets[who] = bucket  # re-insert: dict order is recency
        if len(self.buckets) > RATE_BUCKETS_MAX:
            del self.buckets[next(iter(self.buckets))]
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.by_ip = Buckets(limits.per_ip_rate, limits.per_ip_burst)
        self.by_class = {kind: Buckets(*sizes) for kind, sizes in limits.by_class().items()}
        #: Credential digest -> bucket class, learnt from the principal a route found.
        self.classes: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No store can hold a NUL in text (PostgreSQL refuses it): never a valid id.
            await api_problem("validation_failed", "NUL characters are not allowed")(
                scope, receive, send
            )
            return
        now = time.monotonic()
        client = scope.get("client")
        wait = self.by_ip.take(client[0] if client else "-", now)
        credential = _credential(scope)
        if not wait and credential:
            kind = self.classes.get(credential, "citizen")
            wait = self.by_class[kind].take(credential, now)
        if wait:
            retry = str(max(1, math.ceil(wait)))
            await api_problem("rate_limited", f"retry in {retry} s", {"Retry-After": retry})(
                scope, receive, send
            )
            return
        state: dict[str, Any] = scope.setdefault("state", {})  # the one the routes see
        try:
            await self.app(scope, receive, send)
        finally:
            if credential and "principal" in state:
                self._learn(credential, state["principal"])

    def _learn(self, credential: str, principal: Principal | None) -> None:
        """Remember the credential's class; an invalid one goes back to the citizens'."""
        self.classes.pop(credential, None)  # re-inserted last: dict order is recency
        if principal is None:
            return
        self.classes[credential] = class_of(principal.role)
        if len(self.classes) > RATE_BUCKETS_MAX:
            del self.classes[next(iter(self.classes))]


def _credential(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name in (b"authorization", b"cookie"):
            return hashlib.sha256(value).hexdigest()[:32]
    return None
