"""Metrics (Prometheus, GET /metrics) and one JSON log line per request.

Both are cheap enough for the payment path: a pure ASGI middleware, label values
from route templates (never raw paths), no bodies, no secrets. Request ids come
from a well-formed X-Request-ID or are made here, and are echoed back.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from typing import Final

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localpay.bootstrap import Container
from localpay.entrypoints.api.deps import allow
from localpay.ledger.blocks import BlockRecord
from localpay.ledger.results import Result

REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

log = structlog.get_logger("localpay.http")

# Request ids: a random per-process prefix and a counter. A random id per request cost
# ~6% of the event loop (getrandom system calls are slow on virtual machines).
_PREFIX = secrets.token_hex(4)
_COUNTER = itertools.count(1)


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr, one object per event, with ISO timestamps."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "localpay_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "localpay_http_request_seconds",
            "HTTP request time",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.commit = Histogram(
            "localpay_block_commit_seconds",
            "Block write time",
            ["city"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.block_txs = Histogram(
            "localpay_block_transactions",
            "Transactions per block",
            ["city"],
            buckets=(1, 4, 16, 64, 128, 256, 1024, 4096),
            registry=self.registry,
        )
        self.transactions = Counter(
            "localpay_transactions_total",
            "Transactions by outcome",
            ["city", "kind", "code"],
            registry=self.registry,
        )
        self.queue = Gauge(
            "localpay_ledger_queue_depth",
            "Commands waiting to be sequenced",
            ["city"],
            registry=self.registry,
        )
        self.sequencer_up = Gauge(
            "localpay_sequencer_up",
            "1 while the city's sequencer runs, 0 while it is down",
            ["city"],
            registry=self.registry,
        )

    def observe_block(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        self.commit.labels(city).observe(commit_seconds)
        self.block_txs.labels(city).observe(len(block.txs))
        for tx, result in zip(block.txs, results, strict=True):
            self.transactions.labels(city, tx.kind, result.code).inc()


class SupervisionCollector:
    """The supervisor's counts, read at each scrape (it keeps them; every app's registry
    shows the same numbers)."""

    def __init__(self, counts: Callable[[], tuple[dict[str, int], dict[str, int]]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        failures, restarts = self.counts()
        for name, about, values in (
            (
                "localpay_sequencer_failures",
                "Sequencer failures (logged as sequencer_down)",
                failures,
            ),
            (
                "localpay_sequencer_restarts",
                "Failed sequencers restarted by the supervisor",
                restarts,
            ),
        ):
            family = CounterMetricFamily(name, about, labels=["city"])
            for city, count in sorted(values.items()):
                family.add_metric([city], count)
            yield family


class ReservesCollector:
    """Each city's last proof of reserves, read at each scrape: the shortfall (0 when the
    won in trust cover the units) and the won per unit. An alert on a shortfall > 0 is
    the alarm (docs/reserves.md); the log has it too, and /healthz/reserves answers 503."""

    def __init__(self, latest: Callable[[], dict[str, tuple[int, float]]]) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        found = self.latest()
        shortfall = GaugeMetricFamily(
            "localpay_reserve_shortfall_won", "Won missing behind the units", labels=["city"]
        )
        ratio = GaugeMetricFamily(
            "localpay_reserve_ratio", "Won in trust (and unbooked) per unit", labels=["city"]
        )
        for city, (missing, per_unit) in sorted(found.items()):
            shortfall.add_metric([city], missing)
            ratio.add_metric([city], per_unit)
        yield shortfall
        yield ratio


def _route_of(scope: Scope) -> str:
    """The matched route's template (Starlette records it in the scope), never the raw path."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begin = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else f"{_PREFIX}-{next(_COUNTER):x}"
        status = 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            elapsed = time.perf_counter() - begin
            route = _route_of(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            client = scope.get("client")
            log.info(
                "request",
                request_id=request_id,
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client=client[0] if client else None,
            )


def install(app: FastAPI, container: Container, metrics_token: str | None = None) -> Metrics:
    """Metrics on GET /metrics, for operators only: the scraper's `metrics_token` as a
    bearer token, or an operator administrator's session (they show every city's volume)."""
    metrics = Metrics()
    metrics.registry.register(SupervisionCollector(container.supervisor.counts))
    metrics.registry.register(ReservesCollector(container.reserve_status))
    container.ledgers.observers.append(metrics.observe_block)
    for city in container.cities():
        running = container.ledgers.running_sequencer(city)
        if running is not None:
            running.observers.append(metrics.observe_block)

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not _is_scraper(request, metrics_token):
            allow(request, lambda p: p.role == "operator_admin")
        for city in container.cities():
            running = container.ledgers.running_sequencer(city)
            metrics.queue.labels(city).set(running.queue_depth() if running else 0)
            metrics.sequencer_up.labels(city).set(1 if running and running.running else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(TelemetryMiddleware, metrics=metrics)
    return metrics


def _is_scraper(request: Request, metrics_token: str | None) -> bool:
    if metrics_token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant time: the comparison must not tell a guesser how much of it was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), metrics_token.encode()
    )
