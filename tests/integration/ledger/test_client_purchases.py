"""The Python client's purchase helpers against a live server and its simulated bank:
an order (repeated with its id: the same answer), the won transferred at the bank, the
purchase cancelled; a refusal as an ApiError naming the ledger's code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from localpay.client import ApiError, Client, new_id
from localpay.domain.codes import Code
from localpay.testing.bank import SALE, SaleSite, sale_site, wallet_key
from localpay.testing.servers import seeded_store

CITY = "gimpo"
WALLET = "w-0000004"


@pytest.fixture(scope="module", params=["sqlite"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SaleSite]:
    folder = tmp_path_factory.mktemp("client-sales")
    url = seeded_store(request, folder)
    with sale_site(url, folder / "keys", folder) as found:
        yield found


def _paid(site: SaleSite, purchase: str) -> None:
    state = site.container.ledgers.sequencer(CITY).state
    deadline = time.monotonic() + 30
    while state.purchases[purchase].status != "paid":
        assert time.monotonic() < deadline, state.purchases[purchase]
        time.sleep(0.1)


def test_order_repeat_pay_at_the_bank_then_cancel(site: SaleSite) -> None:
    client = Client(site.base, CITY)
    key = wallet_key(site.keys, WALLET)
    try:
        ident = new_id()
        first = client.order_purchase(WALLET, key, SALE, 20_000, command_id=ident)
        again = client.order_purchase(WALLET, key, SALE, 20_000, command_id=ident)
        assert first["id"] == again["id"] == ident and again["duplicate"] is True
        assert first["deposit"] == again["deposit"]
        with pytest.raises(ApiError) as early:
            client.refund_balance(WALLET, key, ident)  # not paid yet
        assert early.value.code == Code.PURCHASE_CLOSED
        bank = httpx.post(
            f"{site.bank}/transfers",
            json={"account": first["deposit"]["account"], "amount": 20_000},
        )
        assert bank.status_code == 201
        _paid(site, ident)
        done = client.cancel_purchase(WALLET, key, ident)
        assert done["code"] == Code.OK
        payout = site.container.ledgers.sequencer(CITY).state.payouts[ident]
        assert (payout.amount, payout.reason) == (20_000, "cancelled")
    finally:
        client.close()
