"""The witness's health server (Starlette on uvicorn, in a thread of `localpay witness`).

GET /healthz   200 with the witness's status, 503 with the reason while it has an alarm
GET /metrics   its Prometheus metrics
GET /checkpoint the newest checkpoint it co-signed (gossip: peers compare it with theirs)

The socket is bound before the thread starts, so a taken port is an OSError for the
caller to report, not a log line in a thread.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Final

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localpay.services.witness.service import Witness

#: How long start() waits for uvicorn to serve on the bound socket.
START_TIMEOUT_S: Final = 10.0
JSON: Final = "application/json"


def _json(code: int, body: Any) -> Response:
    return Response(json.dumps(body).encode(), code, media_type=JSON)


def health_app(witness: Witness) -> Starlette:
    async def healthz(request: Request) -> Response:
        status = witness.status()
        return _json(503 if status["status"] == "alarm" else 200, status)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(witness.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def latest_checkpoint(request: Request) -> Response:
        latest = witness.latest_cosigned()
        if latest is None:
            return _json(404, {"status": "nothing co-signed yet"})
        return _json(200, latest)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _json(404, {"status": "not found"})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/checkpoint", latest_checkpoint),
        ],
        exception_handlers={404: not_found},
    )


class HealthServer:
    """The running health server; shutdown() stops it and waits for its thread."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
        self.server = server
        self.thread = thread
        self.port = port  # the bound port (the one asked for, or the system's for 0)

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT_S)


def serve_health(witness: Witness, host: str, port: int) -> HealthServer:
    """Serve the health endpoints on host:port in a thread; raise OSError if the address
    cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        health_app(witness), log_config=None, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    # No access log: probes are not worth a line each. Outside the main thread uvicorn
    # installs no signal handlers: the witness's own (stop, then shut this down) stay.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="witness-health", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return HealthServer(server, thread, int(sock.getsockname()[1]))
