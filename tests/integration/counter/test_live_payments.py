"""The counter's hub and reads on a real ledger over SQLite: committed payments and
refunds reach the screens of their merchant only, the sequencer is never held up by a
screen that stops reading, and the day's sales and a resume come from the real history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.signatures import sign_command
from localpay.services.approvals.service import merchant_key
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.counter import sales
from localpay.services.counter.live import LivePayments
from localpay.services.history.service import HistoryIndexer
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import seed


@dataclass
class World:
    store: SqlStore
    ledgers: Ledgers
    hub: LivePayments
    history: SqlHistoryIndex
    indexer: HistoryIndexer
    keys: KeyStore

    def pay(self, amount: int, merchant: str = "m-00000", wallet: str = "w-0000001") -> str:
        secret = bytes(self.keys.load("gimpo", DEMO_SECRET))
        command = c.Pay(
            id=new_id(), city="gimpo", wallet=wallet, merchant=merchant, amount=amount, evidence=""
        )
        receipt = self.ledgers.execute(
            "gimpo", sign_command(command, [derived_key(secret, wallet)])
        )
        assert receipt.ok, receipt
        return command.id

    def refund(self, payment: str, amount: int, merchant: str = "m-00000") -> None:
        command = c.Refund(
            id=new_id(), city="gimpo", merchant=merchant, payment=payment, amount=amount
        )
        key = merchant_key(self.ledgers, "gimpo", merchant)
        assert self.ledgers.execute("gimpo", sign_command(command, [key])).ok


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("counter")
    url = f"sqlite:///{root / 'counter.db'}"
    seed(url, root / "keys")
    store = open_store(url)
    keys = KeyStore(root / "keys")
    ledgers = Ledgers(store, keys, now_ms)
    history = SqlHistoryIndex(store)
    indexer = HistoryIndexer(store, history).start(["gimpo"])
    hub = LivePayments(queue_max=4)
    ledgers.observers.extend([indexer, hub])
    yield World(store, ledgers, hub, history, indexer, keys)
    indexer.close()
    ledgers.close()
    store.close()


def test_payments_and_refunds_reach_their_merchants_screens_only(world: World) -> None:
    ours = world.hub.subscribe("gimpo", "m-00000", lambda: None)
    theirs = world.hub.subscribe("gimpo", "m-00001", lambda: None)
    try:
        payment = world.pay(2_100)
        world.pay(2_200, merchant="m-00001")
        world.refund(payment, 600)
        mine = ours.take(world.hub)
        assert [(e.kind, e.amount) for e in mine] == [("pay", 2_100), ("refund", 600)]
        assert mine[1].payment == payment and mine[0].id == payment
        assert [(e.kind, e.amount) for e in theirs.take(world.hub)] == [("pay", 2_200)]
    finally:
        world.hub.unsubscribe(ours)
        world.hub.unsubscribe(theirs)


def test_a_screen_that_stops_reading_never_holds_the_sequencer(world: World) -> None:
    stalled = world.hub.subscribe("gimpo", "m-00000", lambda: None)
    reading = world.hub.subscribe("gimpo", "m-00000", lambda: None)
    got = []
    began = time.monotonic()
    for amount in range(1_001, 1_011):  # more than the queue holds
        world.pay(amount)
        got += [e.amount for e in reading.take(world.hub)]
    assert time.monotonic() - began < 20
    assert stalled.dropped
    assert got == list(range(1_001, 1_011))
    world.hub.unsubscribe(reading)


def test_the_days_sales_and_a_resume_come_from_the_history(world: World) -> None:
    times = sales.BlockTimes(world.store)
    world.indexer.flush()
    events, complete = sales.today(world.store, world.history, times, "gimpo", "m-00000", now_ms())
    before = sales.sales_of(events, complete)
    last = max((e.seq for e in events), default=-1)
    payment = world.pay(3_300)
    world.pay(3_400, merchant="m-00001")
    world.refund(payment, 300)
    # The index may lag: the hub's recent events fill the gap, with no double counting.
    events, complete = sales.today(
        world.store,
        world.history,
        times,
        "gimpo",
        "m-00000",
        now_ms(),
        also=world.hub.recent("gimpo", "m-00000"),
    )
    after = sales.sales_of(events, complete)
    assert (after.payments, after.gross) == (before.payments + 1, before.gross + 3_300)
    assert (after.refunds, after.refunded) == (before.refunds + 1, before.refunded + 300)
    assert after.net == before.net + 3_000
    world.indexer.flush()
    missed = sales.since(world.history, times, "gimpo", "m-00000", last)
    assert [(e.kind, e.amount) for e in missed] == [("pay", 3_300), ("refund", 300)]
    # Yesterday's (the seeded days') payments are not today's.
    seeded = sales.today(world.store, world.history, times, "gimpo", "m-00000", now_ms())[0]
    assert all(e.time_ms >= now_ms() - 86_400_000 for e in seeded)
