"""The HTTP service: FastAPI app factory, error mapping, limits, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from localpay.bootstrap import Container
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.api import telemetry
from localpay.entrypoints.api.fastpath import SignedCommandRoutes
from localpay.entrypoints.api.middleware.bodylimit import BodyLimitMiddleware
from localpay.entrypoints.api.middleware.idempotency import IdempotencyMiddleware, Records
from localpay.entrypoints.api.middleware.ratelimit import Limits, RateLimitMiddleware
from localpay.entrypoints.api.problems import (
    SCHEMA,
    ApiProblem,
    api_problem,
    error_problem,
    problem,
)
from localpay.entrypoints.api.routers import cards as cards_router
from localpay.entrypoints.api.routers import checkout as checkout_router
from localpay.entrypoints.api.routers import (
    codes,
    commands,
    console,
    feed,
    identity,
    reads,
    staff,
    transparency,
    wallet_payout_account,
)
from localpay.entrypoints.api.routers import notices as notices_router
from localpay.entrypoints.api.routers import programs as programs_router
from localpay.entrypoints.api.routers import qr as qr_router
from localpay.entrypoints.api.routers import qr_requests as qr_requests_router
from localpay.entrypoints.api.routers import registry as registry_router
from localpay.entrypoints.api.routers import sales as sales_router
from localpay.entrypoints.api.routers import settlement as settlement_router
from localpay.entrypoints.api.routers import waiting as waiting_router
from localpay.entrypoints.api.routers import webhooks as webhooks_router


def create_app(  # noqa: PLR0915 (one include_router per feature)
    container: Container,
    limits: Limits | None = None,
    metrics_token: str | None = None,
    lean_commands: bool = True,
) -> FastAPI:
    """`metrics_token`: the bearer token a Prometheus scraper sends for /metrics (operator
    administrators' sessions are accepted too; nobody else). `lean_commands`: serve signed
    commands on the lean path (fastpath.py); False sends them through FastAPI's router
    (the same answers, slower: tests and benchmarks compare the two)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        container.close()

    app = FastAPI(
        title="localpay",
        version="0.1.0",
        summary="A city's local currency on a signed, hash-chained ledger",
        lifespan=lifespan,
    )
    app.state.container = container
    app.include_router(reads.router)
    app.include_router(commands.router)
    app.include_router(identity.router)
    app.include_router(staff.router)
    app.include_router(transparency.router)
    app.include_router(feed.router)
    app.include_router(console.router)
    app.include_router(sales_router.router)
    app.include_router(waiting_router.router)
    app.include_router(registry_router.router)
    app.include_router(notices_router.router)
    app.include_router(programs_router.router)
    app.include_router(qr_requests_router.router)
    app.include_router(qr_router.router)
    app.include_router(codes.router)
    app.include_router(checkout_router.router)
    app.include_router(webhooks_router.router)
    app.include_router(cards_router.router)
    app.include_router(settlement_router.router)
    app.include_router(wallet_payout_account.router)
    _install_errors(app)
    # Outermost first: refuse floods before doing any work, then idempotency.
    records = Records(container.idempotency, container.clock)
    container.on_close(records.close)
    if lean_commands:  # innermost: past idempotency, in place of FastAPI's router
        app.add_middleware(SignedCommandRoutes, routes=commands.router.routes)
    app.add_middleware(IdempotencyMiddleware, records=records)

    app.state.idempotency_records = records
    app.add_middleware(BodyLimitMiddleware)  # every route, methods and exemptions alike
    app.add_middleware(RateLimitMiddleware, limits=limits or Limits())
    telemetry.install(
        app, container, metrics_token
    )  # outermost: times and logs everything, 429s too

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Store reachable and sequencers running (503 names each city down, and why)",
    )
    def readyz() -> Response:
        problems = container.readiness()
        if problems:
            return api_problem("unavailable", "; ".join(problems))
        return JSONResponse({"status": "ready"})

    @app.get(
        "/healthz/reserves",
        tags=["operations"],
        summary="Every city's units backed by won (503 names each city short, and by how much)",
    )
    def reserves_health() -> Response:
        short = {c: s for c, (s, _) in container.reserve_status().items() if s > 0}
        if short:
            words = "; ".join(f"{c}: {s} won short" for c, s in sorted(short.items()))
            return api_problem("unavailable", f"reserve shortfall: {words}")
        return JSONResponse({"status": "backed"})

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = SCHEMA
        _problems_everywhere(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problems_everywhere(schema: dict[str, Any]) -> None:
    """Say what the server sends: every error, 422 included, is application/problem+json.

    FastAPI documents its own validation errors as application/json; ours are problems.
    """
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            for status in ("413", "422", "429", "503"):
                entry = answers.setdefault(status, {"description": "a problem"})
                entry["content"] = problem


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LocalpayError)
    async def on_error(request: Request, exc: LocalpayError) -> Response:
        return error_problem(exc)

    @app.exception_handler(ApiProblem)
    async def on_problem(request: Request, exc: ApiProblem) -> Response:
        return api_problem(exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if exc.errors() and all(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # A path names a resource: a number out of its range (a block height past any
            # store's integers) names none. Queries and bodies that fail are 422.
            return api_problem("not_found", f"{where}: {first.get('msg', 'invalid')}")
        return api_problem(
            "validation_failed",
            f"{where}: {first.get('msg', 'invalid')}",
            errors=[{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()[:20]],
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return api_problem("not_found", "no such path")
        if exc.status_code == 405:
            return api_problem("method_not_allowed")
        return problem(exc.status_code, f"http_{exc.status_code}", str(exc.detail))
