"""The lean path for signed commands (entrypoints/api/fastpath.py): it takes every POST of a
signed command and only those, and answers exactly as the FastAPI route it stands in for.

Two apps over one container on real sockets, one with the lean path and one without, get
the same requests; their answers must agree (status, problem, receipt shape), and the
metrics must name the route template as Starlette's router would.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from localpay.bootstrap import Container
from localpay.domain.limits import COMMAND_BYTES_MAX
from localpay.entrypoints.api.app import create_app
from localpay.entrypoints.api.fastpath import SignedCommandRoutes
from localpay.entrypoints.api.routers import commands
from localpay.testing.servers import FAST_HASHER, free_port, seeded_store, signed_payment

TOKEN = "lean-path-metrics-token-0123456789abcdef"


@dataclass
class Pair:
    lean: str
    routed: str
    keys: Path
    app: FastAPI
    container: Container


def _serve(app: FastAPI) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("lean")
    url = seeded_store(request, folder)
    container = Container(url, str(folder / "keys"), hasher=FAST_HASHER)
    container.start()
    lean_app = create_app(container, metrics_token=TOKEN)
    routed_app = create_app(container, metrics_token=TOKEN, lean_commands=False)
    (lean, s1, t1), (routed, s2, t2) = _serve(lean_app), _serve(routed_app)
    try:
        yield Pair(lean, routed, folder / "keys", lean_app, container)
    finally:
        for server, thread in ((s1, t1), (s2, t2)):
            server.should_exit = True
            thread.join(10)
        container.close()


def _post(base: str, path: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Idempotency-Key": os.urandom(16).hex()}
    return httpx.post(base + path, content=body, headers=headers, timeout=30)


def _shape(r: httpx.Response) -> tuple[int, str, Any]:
    """What must agree between the two paths: status, media type and the answer, where a
    receipt's own numbers (id, place on the chain, proof) are replaced by their keys."""
    media = r.headers.get("content-type", "")
    try:
        body = r.json()
    except json.JSONDecodeError:
        return r.status_code, media, r.text
    if isinstance(body, dict) and "receipt" in body:
        body["receipt"] = sorted(body["receipt"])
    elif isinstance(body, dict) and "id" in body:
        body = sorted(body)
    return r.status_code, media, body


def _envelope(keys: Path, amount: int, city: str = "gimpo") -> bytes:
    return signed_payment(keys, amount, city=city)


CASES: dict[str, tuple[str, Callable[[Path], bytes]]] = {
    "a payment": ("/v1/cities/gimpo/payments", lambda k: _envelope(k, 3)),
    "a refused payment": ("/v1/cities/gimpo/payments", lambda k: _envelope(k, 10**12)),
    "the wrong kind": ("/v1/cities/gimpo/transfers", lambda k: _envelope(k, 3)),
    "the wrong city": ("/v1/cities/gimpo/payments", lambda k: _envelope(k, 3, "yangju")),
    "no such city": ("/v1/cities/nowhere/payments", lambda k: _envelope(k, 3)),
    "malformed": ("/v1/cities/gimpo/payments", lambda k: b'{"body": '),
    "not canonical": (
        "/v1/cities/gimpo/payments",
        lambda k: json.dumps(json.loads(_envelope(k, 3)), indent=1).encode(),
    ),
    "too large": ("/v1/cities/gimpo/payments", lambda k: b" " * (COMMAND_BYTES_MAX + 1)),
    "a trailing slash": ("/v1/cities/gimpo/payments/", lambda k: _envelope(k, 3)),
    "no city": ("/v1/cities//payments", lambda k: _envelope(k, 3)),
    "a longer path": ("/v1/cities/gimpo/payments/x", lambda k: _envelope(k, 3)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_lean_path_answers_as_the_fastapi_route(pair: Pair, case: str) -> None:
    path, make = CASES[case]
    # Each side gets its own command (a fresh id): both are first answers.
    lean = _post(pair.lean, path, make(pair.keys))
    routed = _post(pair.routed, path, make(pair.keys))
    assert _shape(lean) == _shape(routed), (lean.text, routed.text)


def test_a_duplicate_answers_alike_on_both_paths(pair: Pair) -> None:
    body = _envelope(pair.keys, 2)
    first = _post(pair.lean, "/v1/cities/gimpo/payments", body)
    assert first.status_code == 201 and "balance" in first.json()  # the sender's device
    lean = _post(pair.lean, "/v1/cities/gimpo/payments", body)
    routed = _post(pair.routed, "/v1/cities/gimpo/payments", body)
    assert lean.json()["duplicate"] is True and "balance" not in lean.json()  # anonymous
    assert _shape(lean) == _shape(routed)
    assert lean.json()["seq"] == routed.json()["seq"] == first.json()["seq"]


def test_metrics_name_the_route_template_on_the_lean_path(pair: Pair) -> None:
    assert _post(pair.lean, "/v1/cities/gimpo/payments", _envelope(pair.keys, 1)).status_code == 201
    text = httpx.get(pair.lean + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert (
        'localpay_http_requests_total{method="POST",route="/v1/cities/{city}/payments",'
        'status="201"}' in text
    )


def test_the_openapi_still_describes_every_signed_command_route(pair: Pair) -> None:
    paths = httpx.get(pair.lean + "/openapi.json").json()["paths"]
    for path in commands.SIGNED_ROUTES:
        operation = paths[path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["body", "sigs"]
        assert "201" in operation["responses"] and "422" in operation["responses"]


# -- the dispatcher itself: what it takes and what it leaves to FastAPI ---------------------


def _dispatch(pair: Pair, method: str, path: str, body: bytes, root_path: str = "") -> bool:
    """Send one request to the lean dispatcher alone; True if it passed it on to FastAPI."""
    passed: list[str] = []

    async def fastapi(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> int:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": root_path,
            "headers": [],
            "query_string": b"",
            "app": pair.app,
        }
        await SignedCommandRoutes(fastapi, commands.router.routes)(scope, receive, send)
        return int(sent[0]["status"])

    status = asyncio.run(run())
    assert (status == 299) == bool(passed)
    return bool(passed)


def test_the_dispatcher_takes_posts_of_signed_commands_only(pair: Pair) -> None:
    payment = _envelope(pair.keys, 1)
    for path in commands.SIGNED_ROUTES:
        assert not _dispatch(pair, "POST", path.replace("{city}", "gimpo"), payment)
    assert not _dispatch(pair, "POST", "/v1/cities/nowhere/payments", payment)
    for method, path in (
        ("GET", "/v1/cities/gimpo/payments"),
        ("PUT", "/v1/cities/gimpo/payments"),
        ("POST", "/v1/cities/gimpo/payments/"),
        ("POST", "/v1/cities//payments"),
        ("POST", "/v1/cities/gimpo/merchants/m-00000/refunds"),
        ("POST", "/v1/cities/gimpo/proposals"),
        ("POST", "/v1/cities/gimpo"),
        ("POST", "/v2/cities/gimpo/payments"),
    ):
        assert _dispatch(pair, method, path, payment), (method, path)
    # Under a root path, FastAPI strips it: the lean path leaves those to it.
    assert _dispatch(pair, "POST", "/api/v1/cities/gimpo/payments", payment, root_path="/api")


@pytest.mark.parametrize("side", ["lean", "routed"])
def test_a_command_the_ledger_does_not_answer_in_time_is_503_then_answered_once(
    pair: Pair, side: str
) -> None:
    base = pair.lean if side == "lean" else pair.routed
    store, ledgers = pair.container.store, pair.container.ledgers
    original = store.append_block

    def slow_block(city: str, block: Any) -> None:
        time.sleep(1.0)  # every block takes longer than a caller waits for its answer
        original(city, block)

    body, key = _envelope(pair.keys, 1), os.urandom(16).hex()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    store.append_block = slow_block  # type: ignore[method-assign]
    ledgers.answer_timeout_s = 0.2
    try:
        first = httpx.post(base + "/v1/cities/gimpo/payments", content=body, headers=headers)
    finally:
        ledgers.answer_timeout_s = 30.0
        store.append_block = original  # type: ignore[method-assign]
    assert first.status_code == 503 and first.json()["code"] == "unavailable", first.text
    assert first.headers["retry-after"] == "5"
    # Not an answer, so not recorded: the retry with the same key gets the command's one
    # receipt (it landed meanwhile, once).
    again = httpx.post(base + "/v1/cities/gimpo/payments", content=body, headers=headers)
    assert again.status_code == 201 and again.json()["duplicate"] is True, again.text
    tx = json.loads(body)["body"]["id"]
    assert pair.container.store.find_tx("gimpo", tx) is not None
