"""The dynamic QR's API over a real server and socket, on SQLite and PostgreSQL: the POS
(a merchant API key) makes a request, polls it, a wallet pays it once; reuse, expiry, a
mismatched Pay and another shop's staff are refused with problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.payments.qr import merchant_qr
from localpay.services.payments.qr.requests import REQUEST_VALID_MS
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import World, live_container, seeded_store

CITY = "gimpo"
SHOP = "m-00000"
WALLET = "w-0000001"
BASE = f"/v1/cities/{CITY}/qr/requests"


@dataclass
class Site:
    world: World
    box: Container
    keys: Path

    def pos(self) -> httpx.Client:
        return self.world.client(self.world.tokens[CITY]["merchant_api"])

    def anyone(self) -> httpx.Client:
        return self.world.client()

    def pay(self, found: dict[str, Any], **change: Any) -> bytes:
        fields: dict[str, Any] = {
            "merchant": found["merchant"],
            "amount": found["amount"],
            "evidence": f"qr:{found['reference']}",
            **change,
        }
        command = c.Pay(id=new_id(), city=CITY, wallet=WALLET, **fields)
        secret = bytes(KeyStore(self.keys).load(CITY, DEMO_SECRET))
        return sign_command(command, [derived_key(secret, WALLET)])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("qrapi")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, box, _):
        world = World(base, folder / "keys")
        world.sign_in_everyone()
        yield Site(world, box, folder / "keys")


def create(client: httpx.Client, amount: int, key: str | None = None) -> httpx.Response:
    return client.post(
        BASE,
        json={"merchant": SHOP, "amount": amount},
        headers={"Idempotency-Key": key or new_id()},
    )


def send(client: httpx.Client, reference: str, envelope: bytes) -> httpx.Response:
    return client.post(
        f"{BASE}/{reference}/pay",
        content=envelope,
        headers={"Content-Type": "application/json", "Idempotency-Key": new_id()},
    )


def test_pos_creates_polls_and_a_wallet_pays_once(site: Site) -> None:
    with site.pos() as pos, site.anyone() as wallet:
        made = create(pos, 12_000)
        assert made.status_code == 201, made.text
        found = made.json()
        assert found["status"] == "open" and found["amount"] == 12_000
        qr = merchant_qr.read(found["payload"], site.box.merchant_qrs.verify_key(CITY))
        assert (qr.initiation, qr.amount, qr.reference) == ("12", 12_000, found["reference"])
        assert "540512000" in found["payload"]  # 54, whole won, never 12000.00
        envelope = site.pay(found)
        paid = send(wallet, found["reference"], envelope)
        assert paid.status_code == 201, paid.text
        body = paid.json()
        assert body["code"] == "ok" and "general" in body["by_program"]
        polled = pos.get(f"{BASE}/{found['reference']}").json()
        assert polled["status"] == "paid" and polled["payment"] == body["id"]
        again = send(wallet, found["reference"], envelope)  # the same Pay: the same receipt
        assert again.status_code == 201 and again.json()["id"] == body["id"]
        other = send(wallet, found["reference"], site.pay(found))
        assert other.status_code == 409
        assert other.headers["content-type"].startswith("application/problem+json")
        assert other.json()["code"] == "qr_request_paid"


def test_mismatched_pay_is_refused_and_changes_nothing(site: Site) -> None:
    with site.pos() as pos, site.anyone() as wallet:
        found = create(pos, 9_000).json()
        answer = send(wallet, found["reference"], site.pay(found, amount=900))
        assert answer.status_code == 422 and answer.json()["code"] == "qr_payment_mismatch"
        assert pos.get(f"{BASE}/{found['reference']}").json()["status"] == "open"


def test_a_dynamic_qrs_pay_sent_to_the_payments_route_is_refused(site: Site) -> None:
    """Paid past its request, the counter would wait for a payment that came: the plain
    payments route refuses a Pay naming a dynamic QR's reference, and nothing moves."""
    with site.pos() as pos, site.anyone() as wallet:
        found = create(pos, 7_000).json()
        answer = wallet.post(
            f"/v1/cities/{CITY}/payments",
            content=site.pay(found),
            headers={"Content-Type": "application/json", "Idempotency-Key": new_id()},
        )
        assert answer.status_code == 422 and answer.json()["code"] == "qr_request_route"
        assert pos.get(f"{BASE}/{found['reference']}").json()["status"] == "open"
        assert send(wallet, found["reference"], site.pay(found)).status_code == 201


def test_expired_request_is_refused(site: Site) -> None:
    with site.pos() as pos, site.anyone() as wallet:
        found = create(pos, 4_000).json()
        service = site.box.qr_requests
        real = service.clock
        service.clock = lambda: real() + REQUEST_VALID_MS
        try:
            answer = send(wallet, found["reference"], site.pay(found))
            assert answer.status_code == 410, answer.text
            assert answer.json()["code"] == "qr_request_expired"
            assert pos.get(f"{BASE}/{found['reference']}").json()["status"] == "expired"
        finally:
            service.clock = real


def test_the_same_key_gives_the_same_request(site: Site) -> None:
    with site.pos() as pos:
        key = new_id()
        first, second = create(pos, 3_000, key), create(pos, 3_000, key)
        assert first.json()["reference"] == second.json()["reference"]


def test_other_shops_and_anonymous_callers_are_refused(site: Site) -> None:
    with site.pos() as pos, site.anyone() as anyone:
        found = create(pos, 2_000).json()
        assert create(anyone, 2_000).status_code == 401
        other_city = site.world.client(site.world.tokens["yangju"]["merchant_owner"])
        with other_city:
            assert other_city.get(f"{BASE}/{found['reference']}").status_code == 404
            refused = other_city.post(
                BASE, json={"merchant": SHOP, "amount": 1}, headers={"Idempotency-Key": new_id()}
            )
            assert refused.status_code == 404
        assert pos.get(f"{BASE}/AAAAAAAAAAAAAAAA").status_code == 404


def test_the_routes_are_described_in_openapi(site: Site) -> None:
    with site.anyone() as client:
        paths = client.get("/openapi.json").json()["paths"]
    pay = paths[f"{BASE.replace(CITY, '{city}')}/{{reference}}/pay"]["post"]
    assert {"201", "409", "410", "422"} <= set(pay["responses"])
    assert "qr_request_paid" in pay["responses"]["409"]["description"]
    made = paths[BASE.replace(CITY, "{city}")]["post"]
    assert made["responses"]["201"]["content"]["application/json"]["schema"]
