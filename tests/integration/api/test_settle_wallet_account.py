"""A citizen's refund account over HTTP (PUT …/wallets/{wallet}/payout-account), on both
stores: signed by one of the wallet's keys over the request, within 5 minutes of the
server's clock, a bank of the registry's list; answered masked. Then the daily batch
pays the won of the cancelled purchase to it through mock-bank, its own process, and the
bank's statement shows it paid."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nacl.signing
import pytest
from fastapi import FastAPI

from localpay.adapters.bank.mockbank import ensure_trust_account, trust_party
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.bootstrap import Container, open_store
from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.entrypoints.api.app import create_app
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING
from localpay.services.cities.ledgers import new_id
from localpay.services.settlement.ports import LineStatus, PaymentReport
from localpay.services.settlement.wallet_accounts import (
    PAID,
    SENDING,
    WAITING,
    AccountRequest,
    WalletAccounts,
    sign,
)
from localpay.testing.mockbank import RunningMockBank, mock_bank
from localpay.testing.town import CITY, Clock, Town, kst

MONDAY = kst(2026, 6, 8, 10)  # mock-bank's clock starts at 09:00 that Monday
PATH = f"/v1/cities/{CITY}/wallets/alice/payout-account"
NUMBER = "110-234-567890"
HOLDER = "김하나"
MINUTE = 60_000


@dataclasses.dataclass
class World:
    url: str
    keys: Path
    alice: nacl.signing.SigningKey
    bob: nacl.signing.SigningKey  # another wallet's key in the same city
    purchase: str  # cancelled: its won are owed to alice (payout q:<purchase>)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> World:
    """alice bought 100,000 won of a sale and cancelled it: a pending payout, no account."""
    store = open_store(store_url)
    town = Town(store, KeyStore(tmp_path / "keys", master_key_from_environment()), MONDAY)
    town.program("general", 1_000_000, sale=default_sale())
    town.wallet("alice")
    town.wallet("bob")
    purchase = town.buy("alice", "general", 100_000)
    cancel = c.CancelPurchase(id=new_id(), city=CITY, wallet="alice", purchase=purchase)
    assert town.by("alice", cancel).ok
    people = town.people
    town.close()  # frees the lease for the server's sequencer
    store.close()
    return World(store_url, tmp_path / "keys", people["alice"], people["bob"], purchase)


def _container(world: World) -> Iterator[Container]:
    made = Container(world.url, str(world.keys))
    made.clock = Clock(MONDAY)
    yield made
    made.close()


@pytest.fixture
def container(world: World) -> Iterator[Container]:
    yield from _container(world)


def _request(
    world: World, key: nacl.signing.SigningKey | None = None, **fields: Any
) -> dict[str, Any]:
    signer = key or world.alice
    asked = AccountRequest(
        CITY, "alice", fields.get("bank", "088"), fields.get("number", NUMBER),
        fields.get("holder", HOLDER), fields.get("at_ms", MONDAY),
        bytes(signer.verify_key).hex(), "",
    )  # fmt: skip
    body = dataclasses.asdict(asked)
    del body["city"], body["wallet"]
    return {**body, "sig": sign(signer, asked)}


def put(app: FastAPI, body: dict[str, Any]) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localpay") as http:
            return await http.put(PATH, json=body)

    return asyncio.run(run())


def _code(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.status_code, str(response.json()["code"])


def _nothing_kept(container: Container) -> bool:
    return container.settlement.account_of(CITY, "alice") is None


def test_a_signature_by_another_key_or_over_other_words_is_refused(
    world: World, container: Container
) -> None:
    app = create_app(container)
    stranger = nacl.signing.SigningKey.generate()
    assert _code(put(app, _request(world, stranger))) == (403, "unknown_signer")
    # bob's key is a real wallet key of the city, but not alice's.
    assert _code(put(app, _request(world, world.bob))) == (403, "unknown_signer")
    # alice's key, but the number sent is not the one she signed.
    tampered = {**_request(world), "number": "110-999-999999"}
    assert _code(put(app, tampered)) == (422, "signature_invalid")
    assert _nothing_kept(container)


def test_a_request_signed_more_than_5_minutes_away_is_refused(
    world: World, container: Container
) -> None:
    app = create_app(container)
    old = _request(world, at_ms=MONDAY - 5 * MINUTE - 1)
    assert _code(put(app, old)) == (422, "request_stale")
    ahead = _request(world, at_ms=MONDAY + 5 * MINUTE + 1)
    assert _code(put(app, ahead)) == (422, "request_stale")
    assert put(app, _request(world, at_ms=MONDAY - 5 * MINUTE)).status_code == 200  # the edge
    # The same signed request, sent again later, is refused once it is stale.
    later = _request(world, at_ms=MONDAY + MINUTE)
    container.clock = Clock(MONDAY + 7 * MINUTE)
    assert _code(put(app, later)) == (422, "request_stale")


def test_a_bank_not_on_the_list_or_a_bad_number_is_refused(
    world: World, container: Container
) -> None:
    app = create_app(container)
    assert _code(put(app, _request(world, bank="999"))) == (422, "invalid_account")
    assert _code(put(app, _request(world, number="12-34"))) == (422, "invalid_account")
    assert _code(put(app, _request(world, holder="\u0000"))) == (422, "invalid_account")
    schema = {**_request(world), "bank": "88"}
    assert _code(put(app, schema)) == (422, "validation_failed")
    assert _nothing_kept(container)


@pytest.fixture
def bank() -> Iterator[RunningMockBank]:
    with mock_bank() as running:
        yield running


@pytest.fixture
def banked(
    world: World, bank: RunningMockBank, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    """The server's container with mock-bank as its payout bank, the trust account open."""
    monkeypatch.setenv("LOCALPAY_PAYOUT_BANK", bank.url)
    trust = trust_party(CITY, "김포시")
    ensure_trust_account(bank.client, CITY, trust.account, trust.bank, trust.name, 1_000_000)
    yield from _container(world)


def test_registered_masked_then_the_daily_batch_pays_the_cancelled_purchase(
    world: World, bank: RunningMockBank, banked: Container
) -> None:
    container = banked
    accounts = WalletAccounts(container.settlement)
    [owed] = accounts.payouts(CITY, "alice")
    assert (owed.id, owed.amount, owed.state) == (world.purchase, 100_000, WAITING)
    app = create_app(container)
    first = _request(world)
    answer = put(app, first)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "bank": "088", "bank_name": "신한", "number": "********7890", "holder": "김*나",
        "registered_ms": MONDAY,
    }  # fmt: skip
    assert "234567" not in answer.text and "하나" not in answer.text
    assert put(app, first).json() == answer.json()  # the same request again
    newer = _request(world, number="3333-01-2345678", at_ms=MONDAY + 1000)
    assert put(app, newer).status_code == 200
    # The first request, replayed within its 5 minutes, cannot put the old account back.
    assert _code(put(app, first)) == (409, "request_replayed")
    assert accounts.payouts(CITY, "alice")[0].state == SENDING

    container.clock = Clock(kst(2026, 6, 8, 16))
    (daily,) = container.settlement.daily(CITY, kst(2026, 6, 8, 16))
    assert [(x.payout, x.owner, x.amount) for x in daily.lines] == [
        (world.purchase, "alice", 100_000)
    ]
    data = container.settlement.batch_file(CITY, daily.id)
    assert HOLDER.encode() in data and b"3333012345678" in data
    bank.client.advance(days=3)  # through the booking and its statement
    container.settlement.poll(CITY, kst(2026, 6, 11, 10))
    state = container.ledgers.sequencer(CITY).state
    assert state.payouts[world.purchase].status == PAYOUT_PAID
    assert accounts.payouts(CITY, "alice")[0].state == PAID
    assert container.settlement.exceptions(CITY) == []


def test_a_refund_the_bank_returned_waits_for_a_new_account_then_goes_again(
    world: World, bank: RunningMockBank, banked: Container
) -> None:
    container = banked
    app = create_app(container)
    assert put(app, _request(world)).status_code == 200
    settlement = container.settlement
    (first,) = settlement.daily(CITY, kst(2026, 6, 8, 16))
    assert first.status == "sent", first.detail
    # The bank says the account is closed (as its pain.002 would).
    report = PaymentReport(
        "R-1", first.id, "RJCT", "", (LineStatus(world.purchase, "RJCT", "AC04"),)
    )
    assert settlement.apply_report(CITY, report) == 1
    owed = container.ledgers.sequencer(CITY).state.payouts[world.purchase]
    assert (owed.status, owed.returned) == (PAYOUT_PENDING, "AC04")
    assert settlement.daily(CITY, kst(2026, 6, 9, 16)) == []  # not to the same account
    newer = _request(world, number="3333-01-2345678", at_ms=kst(2026, 6, 9, 17))
    container.clock = Clock(kst(2026, 6, 9, 17))
    assert put(app, newer).status_code == 200
    (again,) = settlement.daily(CITY, kst(2026, 6, 9, 18))
    assert [line.payout for line in again.lines] == [world.purchase]
