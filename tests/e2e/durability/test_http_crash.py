"""kill -9 of the HTTP server mid-load: every 2xx receipt survives, exactly once.

A real `localpay serve` process runs on a throwaway store (SQLite and PostgreSQL).
A few client threads pay over HTTP with `localpay.client.Client` and record every
201 receipt (id, seq) in memory as it arrives. The server is SIGKILLed while they
are sending, then restarted on the same store. Then:

* every acknowledged payment is on the chain once, at the seq it was acknowledged
  with (over HTTP, and in the store);
* the chain replays from genesis (`verify_city`);
* sending every payment again, with the same signed bytes, gives the original
  receipt (marked duplicate) or, for one that never got applied, a first one; and
  the balances equal the distinct payments applied once each: no second effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest

from localpay.adapters.clock import now_ms as _now_ms
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_identity, open_store
from localpay.client import ApiError, Client, new_id
from localpay.domain import commands as c
from localpay.ledger.ports import Store
from localpay.ledger.state import Wallet
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.verify import verify_city
from localpay.sim.bench import LOT_AMOUNT, LOTS_PER_WALLET, BenchCity
from localpay.sim.http_bench import Server

pytestmark = pytest.mark.slow

CITY = "httpcrash"
WALLETS = 300
MERCHANTS = 5
PAYMENTS = 3000
THREADS = 4
KILL_AFTER_ACKS = 300
AUDITOR_PASSWORD = "crash-test-auditor-2026"


@dataclass
class Sent:
    """What the clients did: every payment attempted, and every 201 receipt."""

    envelopes: dict[str, bytes] = field(default_factory=dict)  # command id -> signed bytes
    keys: dict[str, str] = field(default_factory=dict)  # command id -> Idempotency-Key
    acked: dict[str, int] = field(default_factory=dict)  # command id -> seq of its 201
    refused: list[str] = field(default_factory=list)  # problems answered before the kill
    lock: threading.Lock = field(default_factory=threading.Lock)


def _prepare(url: str, keys: KeyStore) -> tuple[list[bytes], BenchCity]:
    store = open_store(url)
    ledgers = Ledgers(store, keys, _now_ms)
    try:
        bench = BenchCity(ledgers, CITY)
        bench.set_up(wallets=WALLETS, merchants=MERCHANTS)
        payments = bench.payments(PAYMENTS)
        open_identity(store, _now_ms).create_user(CITY, "city_auditor", "auditor", AUDITOR_PASSWORD)
    finally:
        ledgers.close()  # the server takes the city's lease
        store.close()
    return payments, bench


def _start(url: str, keys: KeyStore, timeout: float = 60.0) -> Server:
    """Start the server; a lease a dead process held may take a moment to be dropped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Server(url, keys.root).start()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _pay_until_killed(
    base_url: str, work: Iterator[bytes], sent: Sent, killed: threading.Event
) -> None:
    client = Client(base_url, CITY, timeout=30)
    try:
        while not killed.is_set():
            with sent.lock:
                envelope = next(work, None)
            if envelope is None:
                return
            command_id = c.decode_envelope(envelope)[1].id
            key = new_id()
            with sent.lock:
                sent.envelopes[command_id] = envelope
                sent.keys[command_id] = key
            try:
                receipt = client.send("payments", envelope, idempotency_key=key)
            except httpx.TransportError:
                return  # the server died under us: this one's fate is unknown
            except ApiError as exc:
                with sent.lock:
                    if not killed.is_set():
                        sent.refused.append(f"{command_id}: {exc}")
                continue
            assert receipt["id"] == command_id and not receipt.get("duplicate")
            with sent.lock:
                sent.acked[command_id] = int(receipt["seq"])
    finally:
        client.close()


def _load_then_kill(server: Server, payments: list[bytes]) -> Sent:
    sent, killed = Sent(), threading.Event()
    work = iter(payments)
    threads = [
        threading.Thread(target=_pay_until_killed, args=(server.base_url, work, sent, killed))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(sent.acked) < KILL_AFTER_ACKS:
        assert time.monotonic() < deadline, f"only {len(sent.acked)} acks in time"
        assert any(t.is_alive() for t in threads), "the clients stopped before the kill"
        time.sleep(0.005)
    server.kill()  # SIGKILL, mid-load: the threads are still sending
    killed.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert len(sent.envelopes) < PAYMENTS, "the load ended before the kill"
    return sent


def _auditor(base_url: str) -> Client:
    login = httpx.post(
        f"{base_url}/v1/auth/login",
        json={"city": CITY, "username": "auditor", "password": AUDITOR_PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    return Client(base_url, CITY, token=login.json()["token"], timeout=30)


def _read_tx(auditor: Client, tx_id: str) -> dict[str, Any]:
    """GET the transaction, waiting out the per-credential rate limit when it bites."""
    for _ in range(60):
        try:
            return auditor.transaction(tx_id)
        except ApiError as exc:
            if exc.status != 429:
                raise
            time.sleep(1)
    raise AssertionError("rate limited for a minute")


def _check_acked_on_chain(store: Store, base_url: str, acked: dict[str, int]) -> None:
    auditor = _auditor(base_url)
    try:
        for tx_id, seq in acked.items():
            view = _read_tx(auditor, tx_id)
            assert (view["id"], view["seq"], view["kind"]) == (tx_id, seq, "pay")
            assert view["result"]["code"] == "ok"
            stored = store.find_tx(CITY, tx_id)
            assert stored is not None and stored.seq == seq
    finally:
        auditor.close()


def _resubmit(base_url: str, sent: Sent) -> set[str]:
    """Every sent payment again; the ids that were applied only now."""
    fresh: set[str] = set()
    client = Client(base_url, CITY, timeout=30)
    try:
        for command_id, envelope in sent.envelopes.items():
            if command_id in sent.acked:
                # Same Idempotency-Key: the recorded answer, or the ledger's duplicate.
                again = client.send("payments", envelope, idempotency_key=sent.keys[command_id])
                assert (again["id"], again["seq"]) == (command_id, sent.acked[command_id])
            # A new key: only the ledger's command id can stop a second effect.
            receipt = client.send("payments", envelope)
            assert receipt["id"] == command_id and receipt["code"] == "ok"
            if command_id in sent.acked:
                assert receipt["duplicate"] and receipt["seq"] == sent.acked[command_id]
            elif not receipt.get("duplicate"):
                fresh.add(command_id)
            # Applied once, in any case: a third try is a duplicate at the same place.
            third = client.send("payments", envelope)
            assert third["duplicate"] and third["seq"] == receipt["seq"]
    finally:
        client.close()
    return fresh


def _check_each_counted_once(store: Store, sent: Sent, bench: BenchCity) -> None:
    spent: dict[str, int] = dict.fromkeys(bench.wallet_keys, 0)
    earned: dict[str, int] = dict.fromkeys(bench.merchants, 0)
    for envelope in sent.envelopes.values():
        _, command = c.decode_envelope(envelope)
        assert isinstance(command, c.Pay)
        spent[command.wallet] += command.amount
        earned[command.merchant] += command.amount
    for merchant, total in earned.items():
        raw = store.state_value(CITY, f"m:{merchant}")
        assert raw is not None and msgspec.json.decode(raw)["balance"] == total, merchant
    for wallet, total in spent.items():
        raw = store.state_value(CITY, f"w:{wallet}")
        assert raw is not None
        balance = msgspec.json.decode(raw, type=Wallet).balance()
        assert balance == LOTS_PER_WALLET * LOT_AMOUNT - total, wallet
    pays = [t for t in store.txs(CITY, 0) if t.kind == "pay"]
    assert len(pays) == len({t.id for t in pays}) == len(sent.envelopes)


def test_every_2xx_payment_survives_kill_9_of_the_server_exactly_once(
    store_url: str, keys: KeyStore
) -> None:
    payments, bench = _prepare(store_url, keys)
    server = _start(store_url, keys)
    try:
        sent = _load_then_kill(server, payments)
    finally:
        server.stop()
    assert not sent.refused, sent.refused[:5]
    assert len(sent.acked) >= KILL_AFTER_ACKS
    unknown = set(sent.envelopes) - set(sent.acked)
    assert unknown, "no payment was in flight at the kill"

    store = open_store(store_url)
    try:
        report = verify_city(store, CITY)
        assert report.ok, report.problems
        server = _start(store_url, keys)
        try:
            _check_acked_on_chain(store, server.base_url, sent.acked)
            fresh = _resubmit(server.base_url, sent)
        finally:
            server.stop()
        # In flight at the kill: each either got applied then (a duplicate now) or now.
        assert fresh <= unknown
        _check_each_counted_once(store, sent, bench)
        report = verify_city(store, CITY)
        assert report.ok, report.problems
    finally:
        store.close()
