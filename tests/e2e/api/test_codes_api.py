"""The customer-presented code over HTTP on a live server: the wallet presents a signed
code, a POS captures it with the merchant's API key (the digits in the body), once; the
same request again is answered the same; bad digits, unknown codes and other tenants get
their problems; the code's state is its wallet's alone."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import World, live_server, problem_code, seed

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
CLAIM = f"/v1/cities/{CITY}/merchants/m-00000/codes/claim"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("codes")
    url = f"sqlite:///{folder}/world.db"
    seed(url, folder / "keys")
    with live_server(url, folder / "keys") as base:
        found = World(base, folder / "keys")
        found.sign_in_everyone()
        yield found


def _another_citizen(world: World) -> str:
    """A session of another wallet of the city that signs in with its own key (a card-only
    wallet's key is the city's: it has no session of its own)."""
    for n in range(2, 13):
        try:
            return world.citizen(CITY, f"w-{n:07d}")
        except AssertionError:
            continue
    raise AssertionError("no other wallet signs in")


def _key() -> str:
    return os.urandom(16).hex()


def _digits() -> str:
    return "".join(str(b % 10) for b in os.urandom(20))


def _hash(digits: str) -> str:
    return hashlib.sha256(f"localpay/code/v1\n{CITY}\n{digits}".encode()).hexdigest()


def _present(world: World, digits: str, cap: int, wallet: str = WALLET) -> httpx.Response:
    secret = bytes(KeyStore(world.keys).load(CITY, DEMO_SECRET))
    command = c.PresentCode(id=_key(), city=CITY, wallet=wallet, code=_hash(digits), cap=cap)
    body = sign_command(command, [derived_key(secret, wallet)])
    with world.client() as client:
        return client.post(
            f"/v1/cities/{CITY}/presented-codes",
            content=body,
            headers={"Idempotency-Key": _key(), "Content-Type": "application/json"},
        )


def _claim(world: World, body: dict[str, Any], key: str, role: str = "merchant_api") -> Any:
    with world.client(world.tokens[CITY][role]) as client:
        return client.post(CLAIM, json=body, headers={"Idempotency-Key": key})


def test_a_pos_captures_a_presented_code_once(world: World) -> None:
    digits = _digits()
    assert _present(world, digits, 30_000).status_code == 201
    key = _key()
    paid = _claim(world, {"code": digits, "amount": 8_000}, key)
    assert paid.status_code == 201, paid.text
    receipt = paid.json()
    assert receipt["code"] == "ok" and "balance" in receipt  # the shop's own balance
    again = _claim(world, {"code": digits, "amount": 8_000}, key)  # a retry: the same answer
    assert again.status_code == 201 and again.json()["id"] == receipt["id"]
    twice = _claim(world, {"code": digits, "amount": 8_000}, _key())
    assert twice.status_code == 409 and problem_code(twice) == "code_used"
    with world.client(world.tokens[CITY]["citizen"]) as client:
        state = client.get(f"/v1/cities/{CITY}/presented-codes/{_hash(digits)}")
    assert state.status_code == 200
    assert {k: state.json()[k] for k in ("state", "payment", "merchant", "amount", "cap")} == {
        "state": "used",
        "payment": receipt["id"],
        "merchant": "m-00000",
        "amount": 8_000,
        "cap": 30_000,
    }


def test_over_the_cap_is_a_problem_and_a_new_request_may_take_less(world: World) -> None:
    digits = _digits()
    assert _present(world, digits, 5_000).status_code == 201
    over = _claim(world, {"code": digits, "amount": 5_001}, _key())
    assert over.status_code == 422 and problem_code(over) == "code_cap_exceeded"
    assert over.json()["receipt"]["id"]  # recorded on the chain, as every refusal is
    assert (
        _claim(world, {"code": digits, "amount": 5_000}, _key(), "merchant_cashier").status_code
        == 201
    )


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("1234", 422, "code_malformed"),
        ("1234567890123456789x", 422, "code_malformed"),
        ("0000 0000 0000 0000 0001", 404, "code_not_found"),
    ],
)
def test_digits_that_are_no_presented_code_are_refused(
    world: World, code: str, status: int, problem: str
) -> None:
    answer = _claim(world, {"code": code, "amount": 1_000}, _key())
    assert answer.status_code == status and problem_code(answer) == problem
    assert "receipt" not in answer.json()  # nothing sent to the ledger


def test_the_body_is_strict(world: World) -> None:
    for body in ({"code": _digits(), "amount": "1000"}, {"code": _digits(), "amount": 0}, {}):
        answer = _claim(world, body, _key())
        assert answer.status_code == 422 and problem_code(answer) == "validation_failed"


def test_another_shop_s_staff_and_another_city_cannot_claim_here(world: World) -> None:
    digits = _digits()
    assert _present(world, digits, 5_000).status_code == 201
    with world.client(world.tokens[CITY]["merchant_api"]) as client:
        other = client.post(
            f"/v1/cities/{CITY}/merchants/m-00001/codes/claim",
            json={"code": digits, "amount": 1_000},
            headers={"Idempotency-Key": _key()},
        )
    assert other.status_code == 403
    with world.client(world.tokens["yangju"]["merchant_api"]) as client:
        foreign = client.post(
            CLAIM, json={"code": digits, "amount": 1_000}, headers={"Idempotency-Key": _key()}
        )
    assert foreign.status_code == 404
    with world.client() as client:
        nobody = client.post(
            CLAIM, json={"code": digits, "amount": 1_000}, headers={"Idempotency-Key": _key()}
        )
    assert nobody.status_code == 401


def test_a_code_s_state_is_its_wallet_s_alone(world: World) -> None:
    digits = _digits()
    assert _present(world, digits, 5_000).status_code == 201
    path = f"/v1/cities/{CITY}/presented-codes/{_hash(digits)}"
    with world.client(world.tokens[CITY]["citizen"]) as client:
        mine = client.get(path)
    assert mine.status_code == 200 and mine.json()["state"] == "open"
    assert 0 < mine.json()["left_ms"] <= 180_000
    with world.client(_another_citizen(world)) as client:
        theirs = client.get(path)
    assert theirs.status_code == 404
    with world.client(world.tokens[CITY]["merchant_owner"]) as client:
        shop = client.get(path)
    assert shop.status_code == 403
