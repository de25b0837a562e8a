"""A city on a real store (SQLite and PostgreSQL, localpay.testing.town) whose merchants'
events go to a real merchant server on a random port, through the real HTTP sender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.webhooks import SqlWebhooks
from localpay.adapters.webhook_sender import HttpSender
from localpay.services.webhooks.service import Webhooks
from localpay.testing.town import Town, kst
from localpay.testing.webhooks import Later, Receiver, Shop, merchant_server

START = kst(2026, 11, 20, 10)


@pytest.fixture
def town(store: SqlStore, keys: KeyStore) -> Iterator[Town]:
    made = Town(store, keys, START)
    made.program("general", 10_000_000)
    for wallet in ("alice", "bob"):
        made.wallet(wallet)
        made.credit("general", wallet, 500_000)
    made.merchant("bakery")
    made.merchant("florist")
    yield made
    made.close()


@pytest.fixture
def shop(town: Town) -> Iterator[Shop]:
    clock = Later()
    sender = HttpSender(connect_s=2.0, total_s=5.0)
    repo = SqlWebhooks(town.store)
    hooks = Webhooks(repo, town.store, master_key_from_environment(), sender, clock)
    yield Shop(town, hooks, clock, repo)
    sender.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with merchant_server() as found:
        yield found
