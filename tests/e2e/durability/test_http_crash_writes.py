"""kill -9 of the server, again and again, while every kind of write is retried.

A real `localpay serve` process on a throwaway store (SQLite and PostgreSQL). Client
threads do every kind of write the API has — signed payments, staff refunds
(server-built commands), officials' proposals and approvals of mints and credits
(maker-checker) — each with one Idempotency-Key that it keeps for every retry,
as a careful client does: a connection error or a 5xx means "unknown, ask again".
Meanwhile the server is SIGKILLed several times and restarted on the same store.

At the end every write has an answer, and:
* each had its effect exactly once (the program's mints, the wallet's credits and the
  refunds add up to the operations, not to the attempts);
* asking again with the same key gives the same answer (the same command id);
* the chain replays from genesis.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from localpay.bootstrap import open_store
from localpay.services.cities.verify import verify_city
from localpay.sim.demo import DEMO_PASSWORD
from localpay.sim.http_bench import Server, free_port
from localpay.testing.servers import seed, signed_payment

pytestmark = pytest.mark.slow

CITY = "gimpo"
KILLS = 4
PAYMENTS = 40
# Payouts to the bank go through mock-bank and the settlement runner (its daily batch
# would take the shop's balance whenever the test runs after the cut-off): their
# exactly-once is test_exactly_once's and test_settle_api's; here the staff refund.
REFUNDS = 12
REFUND = 100
MINTS = 6
MINT = 10_000
CREDIT = 1_000
ANSWER_DEADLINE_S = 240


@dataclass
class Op:
    """One write: how to send it (always with the same key) and its first real answer."""

    name: str
    send: Callable[[httpx.Client, str], httpx.Response]
    key: str = field(default_factory=lambda: os.urandom(16).hex())
    status: int | None = None
    body: dict[str, Any] | None = None


def _answer(base: str, op: Op) -> dict[str, Any]:
    """Send until the server gives an answer that is not 'unknown' (transport error, 5xx)."""
    deadline = time.monotonic() + ANSWER_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with httpx.Client(base_url=base, timeout=10) as client:
                r = op.send(client, op.key)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if r.status_code >= 500:
            time.sleep(0.2)
            continue
        assert r.status_code in (200, 201), f"{op.name}: {r.status_code} {r.text}"
        op.status, op.body = r.status_code, r.json()
        return dict(r.json())
    raise AssertionError(f"{op.name}: no answer in {ANSWER_DEADLINE_S} s")


def _post(
    path: str, token: str | None, **kwargs: Any
) -> Callable[[httpx.Client, str], httpx.Response]:
    extra: dict[str, str] = kwargs.pop("headers", {})
    if token:
        extra["Authorization"] = f"Bearer {token}"

    def send(client: httpx.Client, key: str) -> httpx.Response:
        return client.post(path, headers={"Idempotency-Key": key, **extra}, **kwargs)

    return send


def _login(base: str, username: str) -> str:
    r = httpx.post(
        f"{base}/v1/auth/login",
        json={"city": CITY, "username": username, "password": DEMO_PASSWORD},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


class Writers:
    """The client threads: citizens pay, staff refund, officials mint and credit."""

    def __init__(self, base: str, keys: Path, tokens: dict[str, str]) -> None:
        self.base, self.keys, self.tokens = base, keys, tokens
        self.ops: list[Op] = []
        self.lock = threading.Lock()
        self.paid: list[str] = []
        self.errors: list[str] = []

    def thread(self, work: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test, not lost in a thread
                with self.lock:
                    self.errors.append(f"{work.__name__}: {exc}")

        return threading.Thread(target=guarded, name=work.__name__)

    def payment(self, n: int) -> str:
        """The n-th payment, once the citizen has made it (the shop's money comes first)."""
        deadline = time.monotonic() + ANSWER_DEADLINE_S
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.paid) > n:
                    return self.paid[n]
                if self.errors:
                    raise AssertionError("the citizen stopped")
            time.sleep(0.05)
        raise AssertionError(f"payment {n} never came")

    def run(self, op: Op) -> dict[str, Any]:
        with self.lock:
            self.ops.append(op)
        return _answer(self.base, op)

    def citizen(self) -> None:
        for n in range(PAYMENTS):
            envelope = signed_payment(self.keys, 1_000)
            body = self.run(
                Op(
                    f"pay {n}",
                    _post(
                        f"/v1/cities/{CITY}/payments",
                        None,
                        content=envelope,
                        headers={"Content-Type": "application/json"},
                    ),
                )
            )
            assert body["code"] == "ok", body
            with self.lock:
                self.paid.append(str(body["id"]))

    def staff(self) -> None:
        path = f"/v1/cities/{CITY}/merchants/m-00000"
        for n in range(REFUNDS):
            payment = self.payment(n)
            back = self.run(
                Op(
                    f"refund {n}",
                    _post(
                        f"{path}/refunds",
                        self.tokens["cashier"],
                        json={"payment": payment, "amount": REFUND},
                    ),
                )
            )
            assert back["code"] == "ok", back

    def officials(self) -> None:
        for n in range(MINTS):
            self._maker_checker(
                f"mint {n}",
                "mint",
                {"program": "general", "amount": MINT, "won_ref": f"deposit-{os.urandom(6).hex()}"},
            )
            self._maker_checker(
                f"credit {n}",
                "credit",
                {"program": "general", "wallet": "w-0000002", "amount": CREDIT, "origin": "crash"},
            )

    def _maker_checker(self, name: str, kind: str, params: dict[str, Any]) -> None:
        made = self.run(
            Op(
                f"propose {name}",
                _post(
                    f"/v1/cities/{CITY}/proposals",
                    self.tokens["maker"],
                    json={"kind": kind, "params": params},
                ),
            )
        )
        done = self.run(
            Op(
                f"approve {name}",
                _post(
                    f"/v1/cities/{CITY}/proposals/{made['id']}/approvals", self.tokens["checker"]
                ),
            )
        )
        assert done["status"] == "submitted" and done["receipt"]["code"] == "ok", done


def _state(store_url: str) -> dict[str, Any]:
    store = open_store(store_url)
    try:

        def entity(key: str) -> dict[str, Any]:
            raw = store.state_value(CITY, key)
            assert raw is not None, key
            return dict(msgspec.json.decode(raw))

        return {
            "minted": entity("p:general")["minted"],
            "credited": entity("p:general")["credited"],
            "txs": sum(1 for _ in store.txs(CITY, 0)),
        }
    finally:
        store.close()


def _start(server: Server) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            server.start()
            return
        except RuntimeError:  # a dead process's lease may take a moment to drop
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.5)


def test_every_kind_of_write_survives_repeated_kill_9_exactly_once(
    store_url: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    seed(store_url, keys)
    before = _state(store_url)
    server = Server(store_url, keys, port=free_port())
    _start(server)
    base = server.base_url
    tokens = {name: _login(base, name) for name in ("maker", "checker", "cashier")}
    writers = Writers(base, keys, tokens)
    threads = [writers.thread(w) for w in (writers.citizen, writers.staff, writers.officials)]
    for thread in threads:
        thread.start()
    rng = random.Random(9)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.0))
            server.kill()  # SIGKILL mid-load: writes in every state of flight
            _start(server)
        for thread in threads:
            thread.join(ANSWER_DEADLINE_S)
            assert not thread.is_alive(), f"{thread.name} never finished"
    finally:
        server.stop()
    assert not writers.errors, writers.errors

    after = _state(store_url)
    assert after["minted"] - before["minted"] == MINTS * MINT
    assert after["credited"] - before["credited"] == MINTS * CREDIT
    _check_answers_repeat(store_url, keys, writers)
    store = open_store(store_url)
    try:
        refunded = 0
        for payment in writers.paid[:REFUNDS]:
            raw = store.state_value(CITY, f"x:{payment}")
            assert raw is not None
            refunded += msgspec.json.decode(raw)["refunded"]
        assert refunded == REFUND * REFUNDS
        pays = [t for t in store.txs(CITY, 0) if t.kind == "pay"]
        assert len(pays) == len({t.id for t in pays})
        report = verify_city(store, CITY)
        assert report.ok, report.problems
    finally:
        store.close()


def _check_answers_repeat(store_url: str, keys: Path, writers: Writers) -> None:
    """The same key asks again after the dust settles: the same command, no new effect."""
    server = Server(store_url, keys, port=free_port())
    _start(server)
    try:
        before = _state(store_url)["txs"]
        for op in writers.ops:
            first = op.body
            assert first is not None, op.name
            again = _answer(server.base_url, Op(op.name, op.send, key=op.key))
            assert again.get("id") == first.get("id"), op.name
        assert _state(store_url)["txs"] == before
    finally:
        server.stop()
