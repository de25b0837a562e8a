"""Operations telemetry of the HTTP API (entrypoints/api/telemetry, installed by create_app).

Metrics: after signed payments (one applied, one rejected on the chain) GET /metrics
shows the HTTP counters under route templates, the block commit and size histograms,
the transactions by kind and code, and the queue depth of the running sequencer,
whether the sequencer started before or after the app was built. /metrics answers
operators only: the scraper's bearer token (or an operator administrator, see
tests/e2e/test_access_matrix.py); anyone else gets 401. Every response
carries an X-Request-ID: a well-formed one is echoed, anything else is replaced.
Logs: run in a subprocess (structlog caches its logger on first use, so the format
can only be checked in a process that configured it first), every stderr line is a
JSON object, one per request, with no header value, query string or body in it.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container, open_store
from localpay.domain import commands as c
from localpay.entrypoints.api.app import create_app
from localpay.entrypoints.api.middleware.ratelimit import Limits
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.settlement.ports import ReserveProof
from localpay.sim.bench import BenchCity

CITY = "obscity"
PAYMENTS = "/v1/cities/{city}/payments"
GENERATED_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]+$")
TOKEN = "scraper-" + "t" * 40
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class World:
    url: str
    keys_dir: Path
    wallet: str
    wallet_key: Any
    merchant: str


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> World:
    """A funded city with two wallets and an approved merchant; its sequencer stopped."""
    keys_dir = tmp_path / "keys"
    store = open_store(store_url)
    ledgers = Ledgers(store, KeyStore(keys_dir), lambda: int(time.time() * 1000))
    city = BenchCity(ledgers, CITY)
    city.set_up(wallets=2, merchants=1)
    ledgers.close()  # frees the lease for the server's sequencer
    store.close()
    wallet, key = next(iter(city.wallet_keys.items()))
    return World(store_url, keys_dir, wallet, key, city.merchants[0])


@pytest.fixture
def container(world: World) -> Iterator[Container]:
    made = Container(world.url, str(world.keys_dir))
    yield made
    made.close()


def payment(world: World, amount: int) -> bytes:
    pay = c.Pay(
        id=new_id(),
        city=CITY,
        wallet=world.wallet,
        merchant=world.merchant,
        amount=amount,
        evidence="",
    )
    return bytes(sign_command(pay, [world.wallet_key]))


def call(app: FastAPI, *requests: tuple[str, str, dict[str, str], bytes]) -> list[httpx.Response]:
    """Send requests in order through the ASGI app (no socket, no lifespan)."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localpay") as http:
            return [
                await http.request(method, path, headers=headers, content=body)
                for method, path, headers, body in requests
            ]

    return asyncio.run(run())


def post_payment(app: FastAPI, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Idempotency-Key": new_id()}
    return call(app, ("POST", f"/v1/cities/{CITY}/payments", headers, body))[0]


def samples(app: FastAPI) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = call(app, ("GET", "/metrics", SCRAPER, b""))[0]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def wait_for(app: FastAPI, name: str, at_least: float, **labels: str) -> dict[Any, float]:
    """Scrape until a sample reaches a value: block observers run just after the answers."""
    deadline = time.monotonic() + 10
    while True:
        found = samples(app)
        if value(found, name, **labels) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.mark.parametrize("started", ["before the app", "on the first command"])
def test_metrics_count_requests_blocks_and_outcomes(
    world: World, container: Container, started: str
) -> None:
    if started == "before the app":
        container.start()  # as `localpay serve` does: sequencers already running
    app = create_app(container, metrics_token=TOKEN)

    ok = post_payment(app, payment(world, 1_000))
    assert ok.status_code == 201, ok.text
    rejected = post_payment(app, payment(world, 5_000_000))  # more than the wallet holds
    assert rejected.status_code == 422, rejected.text
    code = rejected.json()["code"]
    assert rejected.json()["receipt"]["seq"] > 0  # recorded on the chain, rejected
    call(app, ("GET", f"/v1/cities/{CITY}/blocks?limit=2", {}, b""))
    call(app, ("GET", "/no/such/path", {}, b""))

    found = wait_for(app, "localpay_transactions_total", 1, city=CITY, kind="pay", code=code)
    assert value(found, "localpay_transactions_total", city=CITY, kind="pay", code="ok") == 1
    assert value(found, "localpay_transactions_total", city=CITY, kind="pay", code=code) == 1
    http = "localpay_http_requests_total"
    assert value(found, http, method="POST", route=PAYMENTS, status="201") == 1
    assert value(found, http, method="POST", route=PAYMENTS, status="422") == 1
    assert value(found, http, method="GET", route="/v1/cities/{city}/blocks", status="200") == 1
    assert value(found, http, method="GET", route="unmatched", status="404") == 1
    assert value(found, "localpay_http_request_seconds_count", method="POST", route=PAYMENTS) == 2
    assert value(found, "localpay_block_commit_seconds_count", city=CITY) >= 2
    assert value(found, "localpay_block_transactions_sum", city=CITY) >= 2
    assert (("localpay_ledger_queue_depth", frozenset({("city", CITY)})) in found) and value(
        found, "localpay_ledger_queue_depth", city=CITY
    ) == 0

    # Route labels are templates: no raw path (with a city or a number in it) ever.
    routes = {dict(labels)["route"] for (_, labels) in found if "route" in dict(labels)}
    assert routes <= {PAYMENTS, "/v1/cities/{city}/blocks", "unmatched", "/metrics"}, routes
    assert not any(CITY in r or "no/such" in r for r in routes)


def test_each_app_has_its_own_registry(world: World, container: Container) -> None:
    first, second = (create_app(container, metrics_token=TOKEN) for _ in range(2))
    assert post_payment(first, payment(world, 500)).status_code == 201
    found = wait_for(first, "localpay_transactions_total", 1, city=CITY, kind="pay", code="ok")
    assert (
        value(found, "localpay_http_requests_total", method="POST", route=PAYMENTS, status="201")
        == 1
    )
    other = samples(second)
    assert (
        value(other, "localpay_http_requests_total", method="POST", route=PAYMENTS, status="201")
        == 0
    )


def test_metrics_answer_the_scraper_token_only(container: Container) -> None:
    app = create_app(container, metrics_token=TOKEN)
    anonymous, wrong, prefix, scraper = call(
        app,
        ("GET", "/metrics", {}, b""),
        ("GET", "/metrics", {"Authorization": f"Bearer {TOKEN}x"}, b""),
        ("GET", "/metrics", {"Authorization": f"Bearer {TOKEN[:-1]}"}, b""),
        ("GET", "/metrics", SCRAPER, b""),
    )
    for refused in (anonymous, wrong, prefix):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "unauthenticated"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "localpay_" not in refused.text
    assert scraper.status_code == 200 and "localpay_http_requests_total" in scraper.text
    # Without a configured token, the scraper's bearer token is just an unknown credential.
    unset = call(create_app(container), ("GET", "/metrics", SCRAPER, b""))[0]
    assert unset.status_code == 401


def test_request_ids_are_echoed_or_generated(container: Container) -> None:
    app = create_app(container, Limits(per_ip_rate=0.001, per_ip_burst=3))
    given = "req-42_A.b"
    longest = "a" * 64
    answers = call(
        app,
        ("GET", "/healthz", {"X-Request-ID": given}, b""),
        ("GET", "/healthz", {"X-Request-ID": longest}, b""),
        ("GET", "/v1/cities/nowhere", {"X-Request-ID": "a" * 65}, b""),  # too long
        ("GET", "/healthz", {"X-Request-ID": "bad id<script>"}, b""),  # limited by now: 429
        ("GET", "/healthz", {}, b""),
    )
    assert [a.status_code for a in answers] == [200, 200, 404, 429, 429]
    ids = [a.headers.get_list("x-request-id") for a in answers]
    assert all(len(one) == 1 for one in ids), ids  # exactly one header on every answer
    assert ids[0] == [given]
    assert ids[1] == [longest]
    generated = [one[0] for one in ids[2:]]
    assert all(GENERATED_ID.match(g) for g in generated), generated
    assert len(set(generated)) == 3


LOGGING_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from localpay.entrypoints.api.app import create_app
    from localpay.entrypoints.api.telemetry import configure_logging
    from localpay.bootstrap import Container

    configure_logging("info")
    url, keys, city, secret = sys.argv[1:5]
    container = Container(url, keys)
    app = create_app(container)

    async def run():
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            await http.get(
                f"/v1/cities/{city}/wallets/w-0000000?token={secret}&password={secret}",
                headers={
                    "Authorization": f"Bearer {secret}",
                    "Cookie": f"session={secret}",
                    "X-Request-ID": "trace-1",
                },
            )
            await http.post(
                f"/v1/cities/{city}/payments?key={secret}",
                headers={"Idempotency-Key": secret, "Content-Type": "application/json",
                         "Authorization": f"Bearer {secret}"},
                content=b'{"body": {"secret": "' + secret.encode() + b'"}, "sigs": []}',
            )

    asyncio.run(run())
    container.close()
    """
)


def test_request_log_lines_are_json_without_secrets(world: World) -> None:
    secret = "s3cr3t-" + new_id()
    done = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT, world.url, str(world.keys_dir), CITY, secret],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert secret not in done.stderr + done.stdout
    assert world.url.split("@")[0] not in done.stderr  # no store URL (nor its password)
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    requests = [e for e in events if e.get("event") == "request"]
    assert len(requests) == 2, done.stderr
    first, second = requests
    assert first["request_id"] == "trace-1"
    assert GENERATED_ID.match(second["request_id"])
    assert (first["method"], first["route"], first["status"]) == (
        "GET",
        "/v1/cities/{city}/wallets/{wallet}",
        401,
    )
    assert (second["method"], second["route"]) == ("POST", PAYMENTS)
    assert second["status"] >= 400  # malformed envelope: refused before the chain
    for event in requests:
        assert event["client"] == "198.51.100.9"
        assert isinstance(event["duration_ms"], float | int) and event["duration_ms"] >= 0
        assert event["level"] == "info" and "timestamp" in event


def test_a_reserve_shortfall_is_a_metric_and_a_failing_health_check(
    container: Container,
) -> None:
    app = create_app(container, metrics_token=TOKEN)
    assert call(app, ("GET", "/healthz/reserves", {}, b""))[0].status_code == 200
    # A proof as settlement records one: 1,000 units, 900 won in trust, nothing unbooked.
    short = ReserveProof(CITY, 7, "ab" * 32, 1, 1_000, 0, 900, None, 0, 100)
    container.settlement_repo.add_proof(short)
    found = samples(app)
    assert value(found, "localpay_reserve_shortfall_won", city=CITY) == 100
    assert value(found, "localpay_reserve_ratio", city=CITY) == 0.9
    answer = call(app, ("GET", "/healthz/reserves", {}, b""))[0]
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"{CITY}: 100 won short" in answer.json()["detail"]
