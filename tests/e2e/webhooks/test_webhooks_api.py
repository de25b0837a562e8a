"""Webhooks end to end, on both stores: a live server on a real socket, its delivery
worker running, a real merchant server that verifies every delivery with
`standardwebhooks`. Payments made over the API arrive signed, in order; the owner and the
shop's API key manage the endpoints, a cashier may not, another city or shop gets 404."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import new_id
from localpay.services.webhooks.worker import Worker
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import (
    World,
    live_container,
    pay_over_http,
    problem_code,
    seeded_store,
)
from localpay.testing.webhooks import Receiver, merchant_server

BASE = "/v1/cities/gimpo/merchants/m-00000/webhooks"


@dataclass
class Live:
    world: World
    container: Container
    receiver: Receiver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root: Path = tmp_path_factory.mktemp("webhooks")
    url = seeded_store(request, root)
    with live_container(url, root / "keys") as (base, container, _), merchant_server() as receiver:
        # As `serve` runs it (Container(jobs=True)); quicker polls for the test.
        worker = Worker(container.webhooks.deliverer, poll_s=0.2).start()
        world = World(base, root / "keys")
        world.sign_in_everyone()
        try:
            yield Live(world, container, receiver)
        finally:
            worker.close()


def _as(live: Live, role: str, city: str = "gimpo") -> httpx.Client:
    return live.world.client(live.world.tokens[city][role])


def _post(client: httpx.Client, path: str, body: object = None) -> httpx.Response:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return client.post(path, json=body, headers=headers)


def _subscribe(live: Live, role: str = "merchant_owner", **extra: object) -> dict[str, object]:
    with _as(live, role) as client:
        made = _post(client, BASE, {"url": live.receiver.url, **extra})
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    live.receiver.secret = str(made.json()["secret"])
    return dict(made.json()["subscription"])


def test_payments_arrive_signed_in_order_and_the_log_shows_them(live: Live) -> None:
    sub = _subscribe(live)
    before = len(live.receiver.delivered())
    ids = [pay_over_http(live.world.base, live.world.keys, n * 1_000)["id"] for n in (1, 2, 3)]
    got = live.receiver.wait(before + 3)[before:]
    assert [r.id for r in got] == [f"evt_{i}" for i in ids]
    for r in got:  # the server verified each; verify again here, as a merchant would
        assert (
            Webhook(live.receiver.secret).verify(r.body, r.headers)["type"] == "payment.succeeded"
        )
    assert [r.payload["data"]["amount"] for r in got] == [1_000, 2_000, 3_000]

    with _as(live, "merchant_api") as client:  # the shop's server reads the log too
        page = client.get(f"{BASE}/{sub['id']}/deliveries", params={"limit": 2})
        assert page.status_code == 200, page.text
        assert [a["event_id"] for a in page.json()["items"]] == [f"evt_{ids[2]}", f"evt_{ids[1]}"]
        assert all(a["ok"] and a["status_code"] == 204 for a in page.json()["items"])
        rest = client.get(
            f"{BASE}/{sub['id']}/deliveries", params={"limit": 2, "cursor": page.json()["next"]}
        )
        assert [a["event_id"] for a in rest.json()["items"]] == [f"evt_{ids[0]}"]
        state = client.get(f"{BASE}/{sub['id']}").json()
        assert state["status"] == "active" and state["delivered_ms"] is not None


def test_replay_ping_rotate_delete(live: Live) -> None:
    sub = _subscribe(live)
    paid = pay_over_http(live.world.base, live.world.keys, 4_000)["id"]
    live.receiver.wait(len(live.receiver.delivered()) + 1)
    with _as(live, "merchant_owner") as client:
        again = _post(client, f"{BASE}/{sub['id']}/deliveries/evt_{paid}/replay")
        assert again.status_code == 200, again.text
        assert (again.json()["status_code"], again.json()["replay"]) == (204, True)
        assert [r.id for r in live.receiver.delivered()][-2:] == [f"evt_{paid}"] * 2

        found = live.container.store.find_tx("gimpo", paid)  # the block it is in
        assert found is not None
        height = found.height
        count = len(live.receiver.delivered())
        replay = _post(client, f"{BASE}/{sub['id']}/replay", {"from_height": height})
        assert replay.status_code == 202, replay.text
        assert live.receiver.wait(count + 1)[-1].id == f"evt_{paid}"

        ping = _post(client, f"{BASE}/{sub['id']}/ping")
        assert ping.status_code == 200 and ping.json()["type"] == "webhook.test"

        old = live.receiver.secret
        rotated = _post(client, f"{BASE}/{sub['id']}/rotate")
        assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
        new = rotated.json()["secret"]
        assert new != old
        live.receiver.secret = new
        assert _post(client, f"{BASE}/{sub['id']}/ping").json()["status_code"] == 204

        gone = client.delete(f"{BASE}/{sub['id']}")
        assert gone.status_code == 204
        missing = client.get(f"{BASE}/{sub['id']}")
        assert (missing.status_code, problem_code(missing)) == (404, "webhook_not_found")


def test_a_repeated_create_shows_the_secret_never_again(live: Live) -> None:
    key = str(uuid.uuid4())
    with _as(live, "merchant_owner") as client:
        first = client.post(BASE, json={"url": live.receiver.url}, headers={"Idempotency-Key": key})
        again = client.post(BASE, json={"url": live.receiver.url}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    assert (again.status_code, problem_code(again)) == (409, "idempotency_secret_shown_once")
    assert first.json()["secret"] not in again.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "http://shop.example/h"}, "webhook_url_invalid"),
        (
            {"url": "https://shop.example/h", "types": ["payment.done"]},
            "webhook_event_type_unknown",
        ),
        ({"types": []}, "validation_failed"),
    ],
)
def test_bad_input_is_a_problem_and_changes_nothing(live: Live, body: object, code: str) -> None:
    with _as(live, "merchant_owner") as client:
        before = client.get(BASE).json()["items"]
        answer = _post(client, BASE, body)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert (answer.status_code, problem_code(answer)) == (422, code)
        assert client.get(BASE).json()["items"] == before


def test_who_may(live: Live) -> None:
    with _as(live, "merchant_cashier") as client:
        assert client.get(BASE).status_code == 403
    for role in ("citizen", "city_auditor"):
        with _as(live, role) as client:
            assert client.get(BASE).status_code == 404
    with _as(live, "merchant_owner", city="yangju") as client:  # another city's owner
        assert client.get(BASE).status_code == 404
    with _as(live, "merchant_owner") as client:  # the owner of m-00000, at another shop
        assert client.get("/v1/cities/gimpo/merchants/m-00001/webhooks").status_code == 404
    with live.world.client() as anonymous:
        assert anonymous.get(BASE).status_code == 401


def test_a_checkout_through_the_wallets_approval_to_verified_webhooks(live: Live) -> None:
    """The mall's flow (docs/integrations.md): its server makes an intent, the citizen's
    wallet approves it with a signed hold, the server captures part and refunds some; the
    mall's webhook server receives each step, verified, in order."""
    sub = _subscribe(live, "merchant_api", types=["checkout.approved", "checkout.captured",
                                                   "payment.refunded"])  # fmt: skip
    assert sub["types"] == ["checkout.approved", "checkout.captured", "payment.refunded"]
    before = len(live.receiver.delivered())
    intents = "/v1/cities/gimpo/checkout/intents"
    with _as(live, "merchant_api") as mall:
        made = _post(mall, intents, {"amount": 30_000, "order_id": "ORD-77",
                                     "return_url": "https://mall.example/back"})  # fmt: skip
        assert made.status_code == 201, made.text
        intent = made.json()
        secret = bytes(KeyStore(live.world.keys).load("gimpo", DEMO_SECRET))
        hold = c.Hold(
            id=new_id(), city="gimpo", wallet="w-0000001", merchant="m-00000", amount=30_000,
            intent=intent["id"], order="ORD-77",
        )  # fmt: skip
        approval = httpx.post(
            f"{live.world.base}{intents}/{intent['id']}/approval",
            content=sign_command(hold, [derived_key(secret, "w-0000001")]),
            headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"},
            timeout=30,
        )
        assert approval.status_code == 201, approval.text
        assert _post(mall, f"{intents}/{intent['id']}/capture", {"amount": 25_000}).is_success
        assert _post(mall, f"{intents}/{intent['id']}/refund", {"amount": 5_000}).is_success
    got = live.receiver.wait(before + 3)[before:]
    assert [r.type for r in got] == ["checkout.approved", "checkout.captured", "payment.refunded"]
    for r in got:
        Webhook(live.receiver.secret).verify(r.body, r.headers)
        assert r.payload["data"]["intent"] == intent["id"]
        assert r.payload["data"]["order"] == "ORD-77"
    assert got[0].id == f"evt_{hold.id}"
    assert (got[1].payload["data"]["amount"], got[1].payload["data"]["held"]) == (25_000, 30_000)
    assert got[2].payload["data"]["amount"] == 5_000
    assert "w-0000001" not in str([r.payload for r in got])
