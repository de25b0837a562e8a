"""A real server on a real socket, and a two-city world with a principal of every role."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2
import httpx
import nacl.signing
import uvicorn
from fastapi import FastAPI

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import (
    Container,
    new_witness,
    open_directory,
    open_identity,
    open_settlement,
    open_store,
)
from localpay.domain import commands as c
from localpay.entrypoints.api.middleware.ratelimit import Limits
from localpay.entrypoints.api.telemetry import configure_logging
from localpay.entrypoints.site import create_site
from localpay.ledger.replay import Pins
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.services.witness.service import Witness
from localpay.services.witness.settings import WitnessSettings
from localpay.sim.demo import (
    DEMO_PASSWORD,
    DEMO_SECRET,
    SimClock,
    demo_directory,
    demo_users,
    derived_key,
)
from localpay.sim.settlement import seed as payout_seed
from localpay.testing.mockbank import RunningMockBank, mock_bank

CITIES = ("gimpo", "yangju")
NAMES = {"gimpo": "김포시", "yangju": "양주시"}
FAST_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(url: str, keys: Path, limits: Limits | None = None) -> Iterator[str]:
    """Serve the store at `url` on a free loopback port; yields the base URL."""
    with live_container(url, keys, limits) as (base, _, _):
        yield base


def follow_live_server(
    url: str,
    keys: Path,
    witness_key: nacl.signing.SigningKey,
    db: Path,
    until: Callable[[Witness], bool],
    *,
    city: str,
    pins: Pins | None = None,
    page_blocks: int = 4,
    clock: Callable[[], int] = now_ms,
) -> Witness:
    """A witness (own SQLite store `db`) following a live server of the store at `url`
    until `until` holds or it fails; stopped and closed when it returns (60 s at most)."""
    store = open_store(f"sqlite:///{db}")
    settings = WitnessSettings(
        city=city,
        follow="",
        page_blocks=page_blocks,
        poll_s=0.05,
        audit_interval_s=0.2,
        pins=pins or Pins(),
    )
    with live_server(url, keys) as base:
        settings.follow = base
        follower = new_witness(store, witness_key, settings, clock=clock)
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not until(follower) and follower.failure is None:
                assert time.monotonic() < deadline, f"timed out: {follower.status()}"
                time.sleep(0.05)
        finally:
            follower.stop()
            thread.join(30)
            follower.close()
    return follower


@contextmanager
def live_container(
    url: str, keys: Path, limits: Limits | None = None, *, bank: bool = False
) -> Iterator[tuple[str, Container, FastAPI]]:
    """As live_server, and the server's container and app (for fault injection in tests).
    `bank`: payouts go to a mock-bank of the site's own (see with_payout_bank)."""
    container = Container(url, str(keys), hasher=FAST_HASHER)
    container.start()
    with ExitStack() as stack:
        if bank:
            stack.enter_context(with_payout_bank(container, keys.parent / "mock-bank"))
        yield from _serve(container, limits)


@contextmanager
def with_payout_bank(container: Container, folder: Path) -> Iterator[RunningMockBank]:
    """The container's payouts through a mock-bank process of its own (one per site: it
    starts in under a second), set up as `make run` sets up the demo's: each city's trust
    account holding its supply, a bank account per shop, the payout accounts on the chain.
    Bank time is real time, as the container's clock is."""
    with mock_bank(folder, clock="") as running:
        closers: list[Callable[[], None]] = []
        container.payout_bank_url = running.url
        container.settlement = open_settlement(
            container.ledgers, container.settlement_repo, running.url, closers
        )
        for city in container.cities():
            genesis = container.ledgers.sequencer(city).state.genesis
            name = genesis.name if genesis else city
            payout_seed(container.settlement, running.client, city, name, container.clock())
        try:
            yield running
        finally:
            for close in closers:
                close()


def _serve(container: Container, limits: Limits | None) -> Iterator[tuple[str, Container, FastAPI]]:
    port = free_port()
    app = create_site(container, limits)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", container, app
    finally:
        server.should_exit = True
        thread.join(10)


def seed(url: str, keys: Path, citizens: int = 12, merchants: int = 3, days: int = 2) -> None:
    """Two small demo cities with the demo's people, and an operator administrator."""
    store = open_store(url)
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, KeyStore(keys), clock, max_clock_skew_ms=None)  # simulated days
    from localpay.sim.demo import run_demo  # noqa: PLC0415

    for city in CITIES:
        run_demo(
            ledgers,
            clock,
            city,
            NAMES[city],
            citizens=citizens,
            merchants=merchants,
            days=days,
            seed=3,
        )
        genesis = ledgers.sequencer(city).state.genesis
        assert genesis is not None
        signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
        for command in (
            c.Mint(id=new_id(), city=city, program="general", amount=1_000_000, won_ref="t"),
            c.Credit(
                id=new_id(),
                city=city,
                program="general",
                wallet="w-0000001",
                amount=1_000_000,
                origin="test",
            ),
        ):
            assert ledgers.execute(city, signer.sign(command)).ok
    ledgers.close()
    identity = open_identity(store, lambda: int(time.time() * 1000), FAST_HASHER)
    for city in CITIES:
        demo_users(identity, city)
        demo_directory(open_directory(store), city, now_ms())
    identity.create_user("*", "operator_admin", "root", DEMO_PASSWORD)
    store.close()


@dataclass
class World:
    base: str
    keys: Path
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)  # city -> role -> token
    api_key: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def login(self, city: str, username: str) -> str:
        with self.client() as c:
            r = c.post(
                "/v1/auth/login",
                json={"city": city, "username": username, "password": DEMO_PASSWORD},
            )
            assert r.status_code == 200, r.text
            return str(r.json()["token"])

    def citizen(self, city: str, wallet: str) -> str:
        secret = bytes(KeyStore(self.keys).load(city, DEMO_SECRET))
        key = derived_key(secret, wallet)
        with self.client() as c:
            challenge = c.post(f"/v1/cities/{city}/wallets/{wallet}/challenges").json()
            signature = key.sign(bytes.fromhex(challenge["sign"])).signature.hex()
            r = c.post(
                f"/v1/cities/{city}/wallets/{wallet}/sessions",
                json={
                    "nonce": challenge["nonce"],
                    "key": bytes(key.verify_key).hex(),
                    "signature": signature,
                },
            )
            assert r.status_code == 200, r.text
            return str(r.json()["token"])

    def sign_in_everyone(self) -> None:
        for city in CITIES:
            people = {
                role: self.login(city, name)
                for name, role in (
                    ("maker", "city_maker"),
                    ("checker", "city_checker"),
                    ("auditor", "city_auditor"),
                    ("owner", "merchant_owner"),
                    ("cashier", "merchant_cashier"),
                )
            }
            people["citizen"] = self.citizen(city, "w-0000001")
            with self.client(people["merchant_owner"]) as c:
                r = c.post(
                    f"/v1/cities/{city}/merchants/m-00000/api-keys",
                    json={"label": "pos"},
                    headers={"Idempotency-Key": f"k-{city}"},
                )
                assert r.status_code == 201, r.text
                people["merchant_api"] = r.json()["key"]
            self.tokens[city] = people
        self.tokens["*"] = {"operator_admin": self.login("*", "root")}


def seeded_store(request: Any, folder: Path) -> str:
    """A seeded two-city store on the module's backend (`request.param`: "sqlite" or
    "postgres", the latter a new database on the session's throwaway server); its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/world.db"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.url(server.create_database())
    seed(url, folder / "keys")
    return url


def signed_payment(
    keys: Path,
    amount: int,
    wallet: str = "w-0000001",
    city: str = "gimpo",
    merchant: str = "m-00000",
) -> bytes:
    """A payment (to m-00000 by default) signed by a demo wallet's key, with a fresh id."""
    secret = bytes(KeyStore(keys).load(city, DEMO_SECRET))
    pay = c.Pay(
        id=new_id(), city=city, wallet=wallet, merchant=merchant, amount=amount, evidence=""
    )
    return sign_command(pay, [derived_key(secret, wallet)])


def pay_over_http(
    base: str, keys: Path, amount: int, merchant: str = "m-00000", wallet: str = "w-0000001"
) -> dict[str, Any]:
    """A demo wallet pays `merchant` in gimpo through the API, as the wallet app sends it;
    the API's 201 answer (the receipt, its `id` the payment's)."""
    answer = httpx.post(
        f"{base}/v1/cities/gimpo/payments",
        content=signed_payment(keys, amount, wallet, merchant=merchant),
        headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def problem_code(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.json().get("code")
    return None


# Request logs are for operators; in tests they only bury the failures.
configure_logging("warning")
