"""Settlement over HTTP on a live server whose payouts go to a real mock-bank process:
problems (RFC 9457) for bad input, the instant payout idempotent by its key, who may
read the payout files and their bytes, and the public proof of reserves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localpay.bootstrap import Container
from localpay.testing.servers import World, live_container, pay_over_http, problem_code, seed

CITY = "gimpo"
SHOP = f"/v1/cities/{CITY}/merchants/m-00000"
# A statement that declares an entity: refused before anything in it is read.
DOCTYPE_STATEMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Document [
  <!ENTITY boom "boom">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&boom;</Document>
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("settle-api")
    url = f"sqlite:///{folder / 'world.db'}"
    seed(url, folder / "keys")
    with live_container(url, folder / "keys", bank=True) as (base, container, _):
        found = World(base, folder / "keys")
        found.sign_in_everyone()
        found.container = container  # type: ignore[attr-defined]
        yield found


def _token(world: World, role: str, city: str = CITY) -> str:
    return world.tokens[city][role]


def _pay_out(world: World, role: str, amount: int, key: str) -> Any:
    with world.client(_token(world, role)) as client:
        return client.post(
            f"{SHOP}/payouts", json={"amount": amount}, headers={"Idempotency-Key": key}
        )


def _balance(world: World) -> int:
    container: Container = world.container  # type: ignore[attr-defined]
    return container.ledgers.sequencer(CITY).state.merchants["m-00000"].balance


def test_a_statement_with_a_doctype_is_a_422_naming_its_line(world: World) -> None:
    with world.client(_token(world, "city_maker")) as client:
        r = client.post(
            f"/v1/cities/{CITY}/statements",
            content=DOCTYPE_STATEMENT,
            headers={"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/xml"},
        )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "xml_refused" and body["line"] == 2, body
    assert "DOCTYPE" in body["reason"] or "DTD" in body["reason"], body


def test_bad_payout_requests_are_problems_and_change_nothing(world: World) -> None:
    pay_over_http(world.base, world.keys, 3_000)
    before = _balance(world)
    for amount in (0, -5, "100", 1.5):
        r = _pay_out(world, "merchant_owner", amount, uuid.uuid4().hex)  # type: ignore[arg-type]
        assert r.status_code == 422 and problem_code(r) == "validation_failed", (amount, r.text)
    with world.client(_token(world, "merchant_owner")) as client:
        unkeyed = client.post(f"{SHOP}/payouts", json={"amount": 1_000})
        bad_account = client.put(
            f"{SHOP}/payout-account", json={"bank": "12", "number": "1", "holder": ""}
        )
    assert unkeyed.status_code == 400 and problem_code(unkeyed) == "idempotency_key_missing"
    assert bad_account.status_code == 422 and problem_code(bad_account) == "validation_failed"
    too_much = _pay_out(world, "merchant_owner", before + 1, uuid.uuid4().hex)
    assert too_much.status_code == 422 and problem_code(too_much) == "insufficient_funds"
    assert _balance(world) == before


def test_the_same_key_is_the_same_payout(world: World) -> None:
    pay_over_http(world.base, world.keys, 5_000)
    before, key = _balance(world), uuid.uuid4().hex
    first = _pay_out(world, "merchant_owner", 2_500, key)
    again = _pay_out(world, "merchant_owner", 2_500, key)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert first.json()["kind"] == "instant" and first.json()["total"] == 2_500
    assert _balance(world) == before - 2_500
    # The same key for another amount is another request: refused, not a second payout.
    reused = _pay_out(world, "merchant_owner", 1_000, key)
    assert reused.status_code == 422 and problem_code(reused) == "idempotency_key_reused"
    # The shop's server pays out with its API key; the cashier may not.
    by_key = _pay_out(world, "merchant_api", 1_000, uuid.uuid4().hex)
    assert by_key.status_code == 201, by_key.text
    assert _pay_out(world, "merchant_cashier", 1_000, uuid.uuid4().hex).status_code == 403
    assert _balance(world) == before - 3_500
    with world.client(_token(world, "merchant_cashier")) as client:
        listed = client.get(f"{SHOP}/payouts").json()["items"]
    assert {first.json()["id"], by_key.json()["id"]} <= {b["id"] for b in listed}


def test_the_payout_file_is_for_officials_only(world: World) -> None:
    pay_over_http(world.base, world.keys, 2_000)
    made = _pay_out(world, "merchant_owner", 1_200, uuid.uuid4().hex)
    assert made.status_code == 201, made.text
    ident = made.json()["id"]
    path = f"/v1/cities/{CITY}/payout-batches/{ident}"
    with world.client(_token(world, "city_auditor")) as auditor:
        assert auditor.get(path).json()["total"] == 1_200  # staff read the batch
        assert auditor.get(f"{path}/file").status_code == 403  # but not the file's bytes
    with world.client(_token(world, "merchant_owner")) as owner:
        assert owner.get(f"{path}/file").status_code == 403
    with world.client(_token(world, "city_checker")) as checker:
        data = checker.get(f"{path}/file")
    assert data.status_code == 200 and data.headers["content-type"] == "application/xml"
    assert b"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09" in data.content
    assert f"<EndToEndId>{made.json()['lines'][0]['payout']}</EndToEndId>".encode() in data.content
    assert b'Ccy="KRW">1200<' in data.content  # whole won: KRW has no minor unit


def test_another_merchants_staff_and_another_citys_are_refused(world: World) -> None:
    other = f"/v1/cities/{CITY}/merchants/m-00001"
    with world.client(_token(world, "merchant_owner")) as owner:
        paid = owner.post(
            f"{other}/payouts", json={"amount": 1}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        seen = owner.get(f"{other}/payouts")
        account = owner.get(f"{other}/payout-account")
    assert (paid.status_code, seen.status_code, account.status_code) == (403, 403, 403)
    with world.client(_token(world, "merchant_owner", "yangju")) as stranger:
        for r in (stranger.get(f"{SHOP}/payouts"), stranger.get(f"{SHOP}/payout-account")):
            assert r.status_code == 404 and r.json()["detail"] == "no such resource", r.text
    with world.client(_token(world, "merchant_owner")) as owner:
        mine = owner.get(f"{SHOP}/payout-account").json()
    assert mine["number"].startswith("*") and mine["number"][-4:].isdigit()


def test_the_reserves_are_public(world: World) -> None:
    container: Container = world.container  # type: ignore[attr-defined]
    proof = container.settlement.prove(CITY, container.clock())
    with world.client() as anonymous:
        r = anonymous.get(f"/v1/cities/{CITY}/reserves")
        unknown = anonymous.get("/v1/cities/nowhere/reserves")
    assert r.status_code == 200, r.text
    newest = r.json()["items"][0]
    assert (newest["size"], newest["supply"], newest["ratio"]) == (
        proof.size,
        proof.supply,
        proof.ratio,
    )
    assert unknown.status_code == 404
