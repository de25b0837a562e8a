"""Exactly once for every write, on a live server, on both stores.

The faults are real: the store's block write is slowed past the answer wait (what a
stall or a commit of unknown outcome looks like to the caller), so the first attempt
gets a 503 while its command still lands; the retry with the same Idempotency-Key must
get that command's one answer, never a second effect.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container
from localpay.domain import commands as c
from localpay.entrypoints.api.middleware.idempotency import Records
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import CityState
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import (
    World,
    live_container,
    problem_code,
    seeded_store,
    signed_payment,
)

CITY = "gimpo"
SLOW_BLOCK_S = 1.2
ANSWER_WAIT_S = 0.3


class Slowed:
    """Makes the container's store take `delay` seconds for every block while active."""

    def __init__(self, container: Container) -> None:
        self.store = container.store
        self.original: Callable[..., None] = container.store.append_block
        self.delay = 0.0
        self.lock = threading.Lock()

        def append_block(city: str, block: Any) -> None:
            time.sleep(self.delay)
            self.original(city, block)

        self.store.append_block = append_block  # type: ignore[method-assign]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("once")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys", bank=True) as (base, container, app):
        found = World(base, folder / "keys")
        found.records = app.state.idempotency_records  # type: ignore[attr-defined]
        found.sign_in_everyone()
        found.container = container  # type: ignore[attr-defined]
        found.slowed = Slowed(container)  # type: ignore[attr-defined]
        yield found


def _key() -> str:
    return os.urandom(16).hex()


def _state(world: World) -> CityState:
    container: Container = world.container  # type: ignore[attr-defined]
    return container.ledgers.sequencer(CITY).state


def _pay(world: World, amount: int) -> dict[str, Any]:
    with world.client() as client:
        r = client.post(
            f"/v1/cities/{CITY}/payments",
            content=signed_payment(world.keys, amount),
            headers={"Idempotency-Key": _key(), "Content-Type": "application/json"},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


class _Stalled:
    """Within the block: every block takes longer than a caller waits for its answer."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.container: Container = world.container  # type: ignore[attr-defined]

    def __enter__(self) -> None:
        self.container.ledgers.answer_timeout_s = ANSWER_WAIT_S
        self.world.slowed.delay = SLOW_BLOCK_S  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.world.slowed.delay = 0.0  # type: ignore[attr-defined]
        self.container.ledgers.answer_timeout_s = 30.0
        time.sleep(SLOW_BLOCK_S + 0.5)  # the stalled block lands meanwhile


def _retry_until_answered(send: Callable[[], httpx.Response]) -> httpx.Response:
    for _ in range(50):
        r = send()
        if r.status_code != 503:
            return r
        time.sleep(0.2)
    raise AssertionError("no answer after 50 tries")


def test_a_payout_answered_503_then_retried_pays_once(world: World) -> None:
    _pay(world, 40_000)
    before = _state(world).merchants["m-00000"].balance
    key = _key()
    owner = world.tokens[CITY]["merchant_owner"]

    def payout() -> httpx.Response:
        with world.client(owner) as client:
            return client.post(
                f"/v1/cities/{CITY}/merchants/m-00000/payouts",
                json={"amount": 30_000},
                headers={"Idempotency-Key": key},
            )

    with _Stalled(world):
        first = payout()
    assert first.status_code == 503 and problem_code(first) == "unavailable", first.text
    again = _retry_until_answered(payout)
    assert again.status_code == 201 and again.json()["total"] == 30_000, again.text
    (line,) = again.json()["lines"]
    repeat = _retry_until_answered(payout).json()
    assert (repeat["id"], repeat["lines"][0]["payout"]) == (again.json()["id"], line["payout"])
    # Once on the chain: the units left the shop's balance for settlement in transit.
    assert _state(world).merchants["m-00000"].balance == before - 30_000
    assert _state(world).payouts[line["payout"]].amount == 30_000


def test_a_staff_refund_answered_503_then_retried_refunds_once(world: World) -> None:
    paid = _pay(world, 7_000)
    key = _key()
    cashier = world.tokens[CITY]["merchant_cashier"]

    def refund() -> httpx.Response:
        with world.client(cashier) as client:
            return client.post(
                f"/v1/cities/{CITY}/merchants/m-00000/refunds",
                json={"payment": paid["id"], "amount": 3_000},
                headers={"Idempotency-Key": key},
            )

    with _Stalled(world):
        assert refund().status_code == 503
    assert _retry_until_answered(refund).status_code == 201
    assert _retry_until_answered(refund).status_code == 201
    assert _state(world).payments[paid["id"]].refunded == 3_000


def _propose(world: World, kind: str, params: dict[str, Any], key: str) -> httpx.Response:
    with world.client(world.tokens[CITY]["city_maker"]) as maker:
        return maker.post(
            f"/v1/cities/{CITY}/proposals",
            json={"kind": kind, "params": params},
            headers={"Idempotency-Key": key},
        )


def _approve(world: World, proposal: str, key: str) -> httpx.Response:
    with world.client(world.tokens[CITY]["city_checker"]) as checker:
        return checker.post(
            f"/v1/cities/{CITY}/proposals/{proposal}/approvals", headers={"Idempotency-Key": key}
        )


def _approved_mint(world: World, amount: int) -> tuple[str, Callable[[], httpx.Response]]:
    """A mint proposal, and the checker's approval to send (and retry) with one key."""
    ref = f"deposit-{_key()[:8]}"
    made = _propose(world, "mint", {"program": "general", "amount": amount, "won_ref": ref}, _key())
    assert made.status_code == 201, made.text
    proposal = made.json()["id"]
    key = _key()
    return proposal, lambda: _approve(world, proposal, key)


def _mint_needs_two(world: World) -> None:
    genesis = _state(world).genesis
    assert genesis is not None
    if genesis.approvals.get("mint", 1) < 2:
        pytest.fail("the demo city must need two officials to mint")


def test_a_mint_approved_during_a_stall_mints_once(world: World) -> None:
    _mint_needs_two(world)
    minted = _state(world).programs["general"].minted
    _, approve = _approved_mint(world, 2_000_000)
    with _Stalled(world):
        first = approve()
    assert first.status_code == 503, first.text
    done = _retry_until_answered(approve)
    assert done.status_code == 201 and done.json()["status"] == "submitted", done.text
    assert done.json()["receipt"]["code"] == "ok"
    assert _state(world).programs["general"].minted == minted + 2_000_000


def test_a_stalled_proposal_can_be_approved_again_by_another_checker_but_not_rejected(
    world: World,
) -> None:
    """A fully signed proposal whose submit got no answer may already be on the chain:
    rejecting it then would lie; approving again finishes it, once."""
    _mint_needs_two(world)
    minted = _state(world).programs["general"].minted
    proposal, approve = _approved_mint(world, 5_000)
    with _Stalled(world):
        assert approve().status_code == 503
    with world.client(world.tokens[CITY]["city_checker"]) as checker:
        rejected = checker.post(
            f"/v1/cities/{CITY}/proposals/{proposal}/rejections",
            headers={"Idempotency-Key": _key()},
        )
    assert rejected.status_code == 409 and problem_code(rejected) == "proposal_decided"
    # The same checker with a new key (a new attempt from the console) finishes it.
    finished = _retry_until_answered(lambda: _approve(world, proposal, _key()))
    assert finished.json()["status"] == "submitted", finished.text
    assert _state(world).programs["general"].minted == minted + 5_000


def test_a_retried_proposal_is_the_same_proposal(world: World) -> None:
    key = _key()
    params = {"merchant": "m-00002", "reason": "retry-test"}
    first = _propose(world, "suspend_merchant", params, key)
    # The idempotency record is gone (as after a crash before it was written): the
    # proposal's id, derived from the maker and the key, still finds the first one.
    _forget_in_memory(world, key)
    second = _propose(world, "suspend_merchant", params, key)
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["id"] == second.json()["id"]
    with world.client(world.tokens[CITY]["city_auditor"]) as auditor:
        listed = auditor.get(f"/v1/cities/{CITY}/proposals?limit=200").json()["items"]
    assert [p["id"] for p in listed].count(first.json()["id"]) == 1
    changed = _propose(world, "suspend_merchant", {**params, "reason": "other"}, key)
    _forget_in_memory(world, key)
    assert changed.status_code in (409, 422), changed.text


def _forget_in_memory(world: World, key: str) -> None:
    container: Container = world.container  # type: ignore[attr-defined]
    container.store.sql("DELETE FROM idempotency WHERE key = ?", (key,))
    records: Records = world.records  # type: ignore[attr-defined]
    with records.wake:
        for place in [p for p in records.memory if p[1] == key]:
            del records.memory[place]


def test_the_maker_can_never_be_the_checker(world: World) -> None:
    made = _propose(world, "suspend_merchant", {"merchant": "m-00001", "reason": "m"}, _key())
    assert made.json()["status"] == "pending", made.text
    with world.client(world.tokens[CITY]["city_maker"]) as maker:
        for _ in range(2):  # nor by retrying
            own = maker.post(
                f"/v1/cities/{CITY}/proposals/{made.json()['id']}/approvals",
                headers={"Idempotency-Key": _key()},
            )
            assert own.status_code == 403, own.text
    with world.client(world.tokens[CITY]["city_auditor"]) as auditor:
        shown = auditor.get(f"/v1/cities/{CITY}/proposals/{made.json()['id']}").json()
    assert shown["status"] == "pending" and len(shown["signed_by"]) == 1


def test_proposals_made_in_one_millisecond_are_all_listed_once(world: World) -> None:
    container: Container = world.container  # type: ignore[attr-defined]
    real = container.proposals.clock
    container.proposals.clock = lambda: 1_790_000_000_000
    try:
        made = {
            _propose(
                world, "suspend_merchant", {"merchant": "m-00001", "reason": f"r{n}"}, _key()
            ).json()["id"]
            for n in range(7)
        }
    finally:
        container.proposals.clock = real
    seen: list[str] = []
    cursor = ""
    with world.client(world.tokens[CITY]["city_auditor"]) as auditor:
        for _ in range(100):
            page = auditor.get(
                f"/v1/cities/{CITY}/proposals", params={"limit": 2, "cursor": cursor or None}
            ).json()
            seen += [p["id"] for p in page["items"]]
            if not page["next"]:
                break
            cursor = page["next"]
    assert made <= set(seen) and len(seen) == len(set(seen))


@pytest.mark.parametrize("amount", ['"100"', "1e3", "true", "100.0", "-5", "0", "null"])
def test_staff_amounts_are_strict_integers(world: World, amount: str) -> None:
    paid = _pay(world, 1_000)
    owner = world.tokens[CITY]["merchant_owner"]
    with world.client(owner) as client:
        for path, body in (
            ("refunds", f'{{"payment": "{paid["id"]}", "amount": {amount}}}'),
            ("payouts", f'{{"amount": {amount}}}'),
        ):
            r = client.post(
                f"/v1/cities/{CITY}/merchants/m-00000/{path}",
                content=body,
                headers={"Idempotency-Key": _key(), "Content-Type": "application/json"},
            )
            assert r.status_code == 422 and problem_code(r) == "validation_failed", (path, r.text)
    assert _state(world).payments[paid["id"]].refunded == 0


def test_a_used_id_with_different_content_gets_id_reused_and_no_data(world: World) -> None:
    one = msgspec.json.decode(signed_payment(world.keys, 1))
    first = _post_signed(world, msgspec.json.encode(one))
    assert first.status_code == 201
    body = one["body"]
    bigger = msgspec.convert({**body, "amount": 50_000}, type=c.Command)
    wallet_key = derived_key(bytes(KeyStore(world.keys).load(CITY, DEMO_SECRET)), "w-0000001")
    reused = _post_signed(world, sign_command(bigger, [wallet_key]))
    assert reused.status_code == 409 and problem_code(reused) == "id_reused", reused.text
    assert "receipt" not in reused.json() and "result" not in reused.json()
    # A stranger replaying the victim's id under a junk command of their own learns nothing.
    junk = msgspec.convert({**body, "amount": 2}, type=c.Command)
    stranger = _post_signed(world, sign_command(junk, [nacl.signing.SigningKey.generate()]))
    assert stranger.status_code == 409 and problem_code(stranger) == "id_reused"
    assert "receipt" not in stranger.json() and "w-0000001" not in stranger.text
    assert _state(world).payments[one["body"]["id"]].amount == 1


def _post_signed(world: World, envelope: bytes) -> httpx.Response:
    with world.client() as client:
        return client.post(
            f"/v1/cities/{CITY}/payments",
            content=envelope,
            headers={"Idempotency-Key": _key(), "Content-Type": "application/json"},
        )


def test_an_answer_leaves_only_once_its_idempotency_record_is_durable(world: World) -> None:
    """Withhold the record's write: the answer must wait for it, so a crash right after
    an answer can never lose the record of it."""
    container: Container = world.container  # type: ignore[attr-defined]
    store = container.store
    original = store.sql_batch
    entered, release = threading.Event(), threading.Event()

    def withheld(statements: list[tuple[str, tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
        if statements and statements[0][0].startswith("INSERT INTO idempotency"):
            entered.set()
            release.wait(30)
        return original(statements)

    store.sql_batch = withheld  # type: ignore[method-assign]
    key = _key()
    answers: list[httpx.Response] = []
    try:
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{world.base}/v1/cities/{CITY}/payments",
                    content=signed_payment(world.keys, 10),
                    headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                    timeout=30,
                )
            )
        )
        sender.start()
        assert entered.wait(10), "the record was never written"
        sender.join(0.5)
        assert not answers, "answered before its idempotency record was durable"
    finally:
        release.set()
        store.sql_batch = original  # type: ignore[method-assign]
    sender.join(10)
    assert answers and answers[0].status_code == 201
    rows = store.sql("SELECT status FROM idempotency WHERE key = ?", (key,))
    assert rows == [(201,)] or [tuple(r) for r in rows] == [(201,)]
