"""Rotating the operator key through the API's maker-checker, on a live server, both
stores: a maker proposes (no keys named: the server makes the new one), a checker
approves, the server adds the current operator key's signature, and the next blocks are
signed by the new key while verify, pinned to the genesis key, follows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.bootstrap import open_store
from localpay.ledger.chain import stored_genesis_hash
from localpay.ledger.replay import Pins
from localpay.ledger.signatures import public_key_hex
from localpay.services.cities.verify import chain_identity, verify_city
from localpay.testing.servers import World, live_container, seeded_store, signed_payment

CITY = "gimpo"


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, str]]:
    url = seeded_store(request, tmp_path)
    with live_container(url, tmp_path / "keys") as (base, _, _):
        yield World(base, tmp_path / "keys"), url


def _propose(world: World, params: dict[str, object]) -> tuple[int, dict[str, object]]:
    with world.client(world.login(CITY, "maker")) as maker:
        r = maker.post(
            f"/v1/cities/{CITY}/proposals",
            json={"kind": "rotate_operator", "params": params},
            headers={"Idempotency-Key": os.urandom(16).hex()},
        )
    return r.status_code, dict(r.json())


def test_a_maker_proposes_a_checker_approves_and_the_new_key_signs(
    world: tuple[World, str],
) -> None:
    live, url = world
    keys = KeyStore(live.keys, master_key_from_environment())
    genesis_key = public_key_hex(keys.load(CITY, "operator"))
    status, proposal = _propose(live, {})
    assert status == 201 and proposal["status"] == "pending", proposal
    command = proposal["command"]
    assert isinstance(command, dict) and command["old_key"] == genesis_key
    new_key = keys.load(CITY, "operator-1")  # made before any command names it
    assert command["new_key"] == public_key_hex(new_key)
    with live.client(live.login(CITY, "checker")) as checker:
        r = checker.post(
            f"/v1/cities/{CITY}/proposals/{proposal['id']}/approvals",
            json={},
            headers={"Idempotency-Key": os.urandom(16).hex()},
        )
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["status"] == "submitted" and done["receipt"]["code"] == "ok", done
    with live.client() as anyone:
        paid = anyone.post(
            f"/v1/cities/{CITY}/payments",
            content=signed_payment(live.keys, 1_000),
            headers={"content-type": "application/json", "Idempotency-Key": os.urandom(8).hex()},
        )
    assert paid.status_code == 201, paid.text
    height = paid.json()["height"]
    store = open_store(url)
    try:
        block = next(iter(store.blocks(CITY, height, height + 1)))
        new_key.verify_key.verify(block.hash, block.signature)  # raises if not the new key
        pins = Pins(stored_genesis_hash(store, CITY), genesis_key)
        report = verify_city(store, CITY, pins=pins)
        assert report.ok, report.problems
        identity = chain_identity(store, CITY)
        assert identity is not None and identity.current_operator_key == public_key_hex(new_key)
    finally:
        store.close()


def test_a_rotation_proposal_names_no_keys(world: tuple[World, str]) -> None:
    live, _ = world
    chosen = public_key_hex(nacl.signing.SigningKey.generate())
    status, problem = _propose(live, {"new_key": chosen})
    assert status == 422 and problem.get("code") == "validation_failed", problem
