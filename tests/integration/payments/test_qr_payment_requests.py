"""Dynamic QR payment requests over a real store and ledger, on SQLite and PostgreSQL:
create, expire, pay, reuse, a refusal that leaves the reference payable, mismatched Pays."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.qr_requests import SqlQrRequests
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.commands import decode_envelope
from localpay.domain.errors import Conflict
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.services.cities.inspect import wallet_view
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.payments.qr import requests as qr
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import seeded_store

CITY = "gimpo"
SHOP = "m-00000"
WALLET = "w-0000001"  # credited 1,000,000 won of "general" by the seed


@dataclass
class Clock:
    now_ms: int

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class World:
    ledgers: Ledgers
    service: qr.QrRequests
    clock: Clock
    keys: Path
    store: SqlStore

    def pay(self, req: qr.QrRequest, wallet: str = WALLET, **change: Any) -> bytes:
        fields: dict[str, Any] = {
            "merchant": req.merchant,
            "amount": req.amount,
            "evidence": qr.evidence_of(req.reference),
        }
        fields.update(change)
        command = c.Pay(id=new_id(), city=CITY, wallet=wallet, **fields)
        secret = bytes(KeyStore(self.keys).load(CITY, DEMO_SECRET))
        return sign_command(command, [derived_key(secret, wallet)])

    def send(self, req: qr.QrRequest, envelope: bytes) -> Receipt:
        _, command = decode_envelope(envelope)
        assert isinstance(command, c.Pay)

        async def submit(city: str, data: bytes) -> Receipt:
            return await asyncio.to_thread(self.ledgers.execute, city, data)

        return asyncio.run(self.service.pay(CITY, req.reference, command, envelope, submit))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("qr")
    url = seeded_store(request, folder)
    store = open_store(url)
    ledgers = Ledgers(store, KeyStore(folder / "keys"), now_ms)
    clock = Clock(now_ms())
    service = qr.QrRequests(
        SqlQrRequests(store), qr.ledger_lookup(store), lambda *a: "|".join(map(str, a)), clock
    )
    yield World(ledgers, service, clock, folder / "keys", store)
    ledgers.close()
    store.close()


def key() -> str:
    return new_id()


def test_create_is_open_and_idempotent(world: World) -> None:
    k = key()
    made = world.service.create(CITY, SHOP, 12_000, k)
    assert made.status == "open" and made.amount == 12_000 and len(made.reference) == 16
    assert made.expires_ms - made.created_ms == qr.REQUEST_VALID_MS
    again = world.service.create(CITY, SHOP, 12_000, k)
    assert again.reference == made.reference
    with pytest.raises(Conflict):
        world.service.create(CITY, SHOP, 13_000, k)
    with pytest.raises(qr.BadAmount):
        world.service.create(CITY, SHOP, 0, key())


def test_another_merchant_does_not_see_it(world: World) -> None:
    made = world.service.create(CITY, SHOP, 1_000, key())
    with pytest.raises(qr.RequestNotFound):
        world.service.get(CITY, made.reference, merchant="m-00001")
    with pytest.raises(qr.RequestNotFound):
        world.service.get("yangju", made.reference)


def test_pay_then_reuse_is_refused_and_repeat_is_the_same_receipt(world: World) -> None:
    made = world.service.create(CITY, SHOP, 7_000, key())
    first = world.pay(made)
    receipt = world.send(made, first)
    assert receipt.ok, receipt
    paid = world.service.get(CITY, made.reference, merchant=SHOP)
    assert paid.status == "paid" and paid.payment == receipt.id
    repeat = world.send(made, first)
    assert repeat.ok and repeat.id == receipt.id and repeat.duplicate
    with pytest.raises(qr.RequestPaid):
        world.send(made, world.pay(made))
    # A repeat after the request expired still gets its one answer.
    world.clock.now_ms += qr.REQUEST_VALID_MS
    try:
        assert world.send(made, first).id == receipt.id
    finally:
        world.clock.now_ms -= qr.REQUEST_VALID_MS


def test_expired_is_refused_and_changes_nothing(world: World) -> None:
    made = world.service.create(CITY, SHOP, 5_000, key())
    world.clock.now_ms += qr.REQUEST_VALID_MS
    try:
        assert world.service.get(CITY, made.reference).status == "expired"
        envelope = world.pay(made)
        with pytest.raises(qr.RequestExpired):
            world.send(made, envelope)
        _, command = decode_envelope(envelope)
        assert world.store.find_tx(CITY, command.id) is None
    finally:
        world.clock.now_ms -= qr.REQUEST_VALID_MS


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 4_999},
        {"merchant": "m-00001"},
        {"evidence": "qr:AAAAAAAAAAAAAAAA"},
        {"evidence": ""},
    ],
)
def test_a_pay_that_is_not_the_request_is_refused(world: World, change: dict[str, Any]) -> None:
    made = world.service.create(CITY, SHOP, 5_000, key())
    envelope = world.pay(made, **change)
    with pytest.raises(qr.PaymentMismatch):
        world.send(made, envelope)
    _, command = decode_envelope(envelope)
    assert world.store.find_tx(CITY, command.id) is None
    assert world.service.get(CITY, made.reference).status == "open"


def test_refused_by_the_ledger_leaves_it_payable(world: World) -> None:
    poor = "w-0000002"
    made = world.service.create(CITY, SHOP, wallet_view(world.store, CITY, poor).balance + 1, key())
    refused = world.send(made, world.pay(made, wallet=poor))
    assert refused.code == "insufficient_funds" and refused.seq is not None  # on the chain
    assert world.service.get(CITY, made.reference).status == "open"
    receipt = world.send(made, world.pay(made))
    assert receipt.ok, receipt
    assert world.service.get(CITY, made.reference).status == "paid"


def test_a_claim_whose_answer_was_lost_is_settled_from_the_chain(world: World) -> None:
    made = world.service.create(CITY, SHOP, 2_000, key())
    envelope = world.pay(made)
    _, command = decode_envelope(envelope)
    # The server stopped after the claim and the ledger's answer: the claim alone is stored.
    assert SqlQrRequests(world.store).claim(CITY, made.reference, command.id, "", 1)
    assert world.ledgers.execute(CITY, envelope).ok
    with pytest.raises(qr.RequestPaid):
        world.send(made, world.pay(made))
    assert world.service.get(CITY, made.reference).status == "paid"


def test_a_broken_signature_is_refused_before_any_claim(world: World) -> None:
    made = world.service.create(CITY, SHOP, 1_500, key())
    envelope = bytearray(world.pay(made))
    at = envelope.index(b'"sig":"') + len(b'"sig":"')
    envelope[at] = ord("0") if envelope[at] != ord("0") else ord("1")  # one hex digit changed
    with pytest.raises(qr.SignatureInvalid):
        world.send(made, bytes(envelope))
    stored = SqlQrRequests(world.store).get(CITY, made.reference)
    assert stored is not None and stored[7] == ""  # never claimed
    assert world.send(made, world.pay(made)).ok
