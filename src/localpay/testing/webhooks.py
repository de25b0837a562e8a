"""A small merchant server for the webhook tests: a real HTTP server on a random port (in
a thread) that verifies each delivery with `standardwebhooks` as a merchant would, and can
answer 500 to the first N deliveries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from localpay.adapters.clock import now_ms
from localpay.adapters.sql.webhooks import SqlWebhooks
from localpay.services.webhooks.service import Webhooks
from localpay.testing.town import Town


@dataclass
class Received:
    id: str
    type: str
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    answered: int


@dataclass
class Receiver:
    """What the merchant's server saw. `secret`: the one it verifies with (set it after
    creating the subscription); `fail_first`: how many requests get a 500 first."""

    url: str = ""
    secret: str = ""
    fail_first: int = 0
    requests: int = 0
    received: list[Received] = field(default_factory=list)  # every request, in order
    refused: list[str] = field(default_factory=list)  # verification failures
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.requests += 1
            failing = self.requests <= self.fail_first
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                self.refused.append(str(exc))
                self.arrived.notify_all()
                return 400
            status = 500 if failing else 204
            self.received.append(
                Received(headers["webhook-id"], payload["type"], payload, body, headers, status)
            )
            self.arrived.notify_all()
            return status

    def delivered(self) -> list[Received]:
        """The deliveries it accepted (answered 2xx), in arrival order."""
        with self.lock:
            return [r for r in self.received if r.answered < 300]

    def wait(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until `count` deliveries were accepted; they, in order."""
        with self.lock:
            self.arrived.wait_for(
                lambda: sum(r.answered < 300 for r in self.received) >= count, timeout
            )
        return self.delivered()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(size)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(body, headers)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    return Handler


@contextmanager
def merchant_server() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def loads(body: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(body)
    return found


class Later:
    """The real clock plus an offset the test moves (past a backoff), kept well within
    the receivers' 5-minute tolerance of `webhook-timestamp`."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms


@dataclass
class Shop:
    town: Town
    hooks: Webhooks
    clock: Later
    repo: SqlWebhooks
