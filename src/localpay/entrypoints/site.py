"""The whole HTTP site: the API under /v1 and the pages under /, in one app."""

from __future__ import annotations

from fastapi import FastAPI

from localpay.bootstrap import Container
from localpay.entrypoints.api.app import create_app
from localpay.entrypoints.api.middleware.ratelimit import Limits
from localpay.entrypoints.web import app as web


def create_site(
    container: Container,
    limits: Limits | None = None,
    metrics_token: str | None = None,
    lean_commands: bool = True,
) -> FastAPI:
    """The API (entrypoints/api) with the web pages (entrypoints/web) added."""
    app = create_app(container, limits, metrics_token, lean_commands)
    web.install(app)
    return app
