"""Supervised sequencers (localpay.services.cities.supervision, started by Container.start).

The store is the real SQLite or PostgreSQL store behind FlakyStore, which fails chosen
block writes and, while `down`, every recovery read (what a restart does first). A city
whose sequencer fails is logged with the reason (`sequencer_down`), counted on /metrics
(`localpay_sequencer_failures_total`, `localpay_sequencer_up` 0), named by /readyz (503)
and restarted by the supervisor alone, with no command sent: /readyz is 200 again and
payments go through. While restarts keep failing, the delay between them doubles up to
its maximum; after a healthy spell it starts from the shortest again. A clock-skew
refusal is no failure: the sequencer keeps running, nothing is counted or restarted.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container, open_store
from localpay.domain import commands as c
from localpay.entrypoints.api.app import create_app
from localpay.ledger.blocks import BlockRecord
from localpay.ledger.ports import Store, StoreError
from localpay.ledger.receipt import ClockSkew, SequencerStopped
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.supervision import Backoff
from localpay.sim.bench import BenchCity

CITY = "supcity"
TOKEN = "metrics-" + "s" * 40
WAIT_S = 20.0


class FlakyStore:
    """A real store that fails the next `fail_appends` block writes and, while `down`,
    every block write and state read (a restart reads the state first)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.fail_appends = 0
        self.down = False
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def append_block(self, city: str, block: BlockRecord) -> None:
        with self._lock:
            failing = self.down or self.fail_appends > 0
            self.fail_appends = max(0, self.fail_appends - 1)
        if failing:
            raise StoreError("disk full (injected)")
        self.inner.append_block(city, block)

    def state(self, city: str) -> Any:
        if self.down:
            raise StoreError("database unreachable (injected)")
        return self.inner.state(city)


@dataclass
class World:
    container: Container
    flaky: FlakyStore
    app: FastAPI
    wallet: str
    wallet_key: Any
    merchant: str


class ShiftedClock:
    """The real clock plus an offset a test can move (a clock that jumps)."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset_ms


def make_world(
    store_url: str, keys_dir: Path, backoff: Backoff, clock: ShiftedClock | None = None
) -> World:
    store = open_store(store_url)
    ledgers = Ledgers(store, KeyStore(keys_dir), lambda: int(time.time() * 1000))
    city = BenchCity(ledgers, CITY)
    city.set_up(wallets=2, merchants=1)
    ledgers.close()
    store.close()
    container = Container(store_url, str(keys_dir), backoff=backoff)
    flaky = FlakyStore(container.store)
    container.ledgers.store = flaky  # the sequencers' store (the rest keep the real one)
    if clock is not None:
        container.ledgers.clock = clock
    container.start()
    wallet, key = next(iter(city.wallet_keys.items()))
    app = create_app(container, metrics_token=TOKEN)
    return World(container, flaky, app, wallet, key, city.merchants[0])


@pytest.fixture
def world_of(store_url: str, tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(backoff: Backoff, clock: ShiftedClock | None = None) -> World:
        made.append(make_world(store_url, tmp_path / "keys", backoff, clock))
        return made[-1]

    yield make
    for world in made:
        world.flaky.down, world.flaky.fail_appends = False, 0
        world.container.close()


def payment(world: World) -> bytes:
    pay = c.Pay(
        id=new_id(), city=CITY, wallet=world.wallet, merchant=world.merchant, amount=1, evidence=""
    )
    return bytes(sign_command(pay, [world.wallet_key]))


def get(app: FastAPI, path: str, token: str | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://localpay") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(run())


def metric(app: FastAPI, name: str) -> float:
    response = get(app, "/metrics", TOKEN)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("city") == CITY:
                return float(sample.value)
    return 0.0


def fail_one_block(world: World) -> None:
    """A command whose block write fails: the sequencer stops, the command is answered."""
    ticket = world.container.ledgers.submit(CITY, payment(world))
    assert isinstance(ticket.exception(WAIT_S), SequencerStopped)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "not within the wait"
        time.sleep(0.02)


def ready(world: World) -> bool:
    return get(world.app, "/readyz").status_code == 200


def stamped(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["at"] = time.monotonic()
    return event


def test_a_failed_sequencer_is_told_counted_and_restarted_without_a_command(
    world_of: Callable[..., World],
) -> None:
    world = world_of(Backoff(poll_s=0.02, min_s=2.0, max_s=8.0, healthy_reset_s=0.5))
    assert ready(world)
    assert metric(world.app, "localpay_sequencer_up") == 1
    failed = world.container.ledgers.running_sequencer(CITY)
    world.flaky.fail_appends = 1
    with structlog.testing.capture_logs() as logged:
        fail_one_block(world)
        answer = get(world.app, "/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert CITY in answer.json()["detail"] and "disk full" in answer.json()["detail"]
        assert metric(world.app, "localpay_sequencer_up") == 0
        wait_until(lambda: ready(world))  # no command sent: the supervisor restarted it
    restarted = world.container.ledgers.running_sequencer(CITY)
    assert restarted is not None and restarted is not failed and restarted.running
    down = [e for e in logged if e["event"] == "sequencer_down"]
    assert len(down) == 1 and down[0]["city"] == CITY
    assert down[0]["reason"] == "StoreError: disk full (injected)"
    assert down[0]["retry_in_s"] == 2.0
    assert [e["city"] for e in logged if e["event"] == "sequencer_restarted"] == [CITY]
    assert metric(world.app, "localpay_sequencer_failures_total") == 1
    assert metric(world.app, "localpay_sequencer_restarts_total") == 1
    assert metric(world.app, "localpay_sequencer_up") == 1
    assert world.container.ledgers.execute(CITY, payment(world)).ok

    time.sleep(0.6)  # a healthy spell: the next failure waits the shortest delay again
    world.flaky.fail_appends = 1
    with structlog.testing.capture_logs() as logged:
        fail_one_block(world)
        wait_until(lambda: ready(world))
    assert [e["retry_in_s"] for e in logged if e["event"] == "sequencer_down"] == [2.0]
    assert metric(world.app, "localpay_sequencer_failures_total") == 2


def test_the_restart_delay_doubles_while_the_store_stays_down(
    world_of: Callable[..., World],
) -> None:
    world = world_of(Backoff(poll_s=0.01, min_s=0.05, max_s=0.4, healthy_reset_s=60))
    world.flaky.down = True
    with structlog.testing.capture_logs(processors=[stamped]) as logged:
        fail_one_block(world)
        wait_until(lambda: sum(e["event"] == "sequencer_restart_failed" for e in logged) >= 5)
        answer = get(world.app, "/readyz")
        world.flaky.down = False
        wait_until(lambda: ready(world))
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert f"sequencer for {CITY} not running: StoreError: disk full (injected)" in detail
    assert "(restart failed: StoreError: database unreachable (injected))" in detail
    failures = [e for e in logged if e["event"] == "sequencer_restart_failed"]
    assert all(e["city"] == CITY and "database unreachable" in e["reason"] for e in failures)
    delays = [e["retry_in_s"] for e in failures[:5]]
    assert delays == [0.1, 0.2, 0.4, 0.4, 0.4]
    attempts = [e["at"] for e in logged if e["event"] == "sequencer_down"]
    attempts += [e["at"] for e in failures[:4]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, [0.05, 0.1, 0.2, 0.4], strict=True):
        assert gap >= delay * 0.9, (gaps, delays)  # each wait at least its (doubling) delay
    assert metric(world.app, "localpay_sequencer_failures_total") == 1  # one failure
    assert metric(world.app, "localpay_sequencer_restarts_total") == 1  # one recovery
    assert world.container.ledgers.execute(CITY, payment(world)).ok


def test_a_clock_skew_refusal_is_not_a_failure(world_of: Callable[..., World]) -> None:
    clock = ShiftedClock()
    world = world_of(Backoff(poll_s=0.01, min_s=0.05), clock)
    running = world.container.ledgers.running_sequencer(CITY)
    clock.offset_ms = 400 * 86_400_000  # the wall clock jumps 400 days
    with structlog.testing.capture_logs() as logged:
        ticket = world.container.ledgers.submit(CITY, payment(world))
        assert isinstance(ticket.exception(WAIT_S), ClockSkew)
        time.sleep(0.3)  # many supervisor rounds
        assert ready(world)
    assert [e["event"] for e in logged if e["event"] != "request"] == ["clock_skew"]
    assert world.container.ledgers.running_sequencer(CITY) is running  # never restarted
    assert metric(world.app, "localpay_sequencer_failures_total") == 0
    assert metric(world.app, "localpay_sequencer_up") == 1
    clock.offset_ms = 0
    assert world.container.ledgers.execute(CITY, payment(world)).ok
