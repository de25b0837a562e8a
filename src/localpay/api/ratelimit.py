"""Rate limits: token buckets per client address and per credential, in memory.

One process serves a city, so in-memory buckets are exact there; behind several
processes each enforces its share. Over the limit: 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from localpay.api.problems import api_problem

#: Buckets kept before the least recently used are dropped.
MAX_BUCKETS: Final = 100_000


@dataclass(frozen=True)
class Limits:
    """Requests per second and burst, per client address and per credential."""

    per_ip_rate: float = 2000.0
    per_ip_burst: float = 4000.0
    per_credential_rate: float = 50.0
    per_credential_burst: float = 200.0


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
        if len(self.buckets) > MAX_BUCKETS:
            del self.buckets[next(iter(self.buckets))]
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.by_ip = Buckets(limits.per_ip_rate, limits.per_ip_burst)
        self.by_credential = Buckets(limits.per_credential_rate, limits.per_credential_burst)

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
            wait = self.by_credential.take(credential, now)
        if wait:
            retry = str(max(1, math.ceil(wait)))
            await api_problem("rate_limited", f"retry in {retry} s", {"Retry-After": retry})(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def _credential(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name in (b"authorization", b"cookie"):
            return hashlib.sha256(value).hexdigest()[:32]
    return None
