"""kill -9 in the middle of a load: every acknowledged payment survives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.ports import LeaseHeld
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.verify import verify_city
from localpay.sim.bench import BenchCity

pytestmark = pytest.mark.slow

# The child: submits the prepared payments 50 at a time and logs each acknowledged one
# (id, seq) with fsync only after its ticket resolved, i.e. after its block is durable.
CHILD = """
import os, sys
from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.services.cities.ledgers import Ledgers
url, keys, payments, acks = sys.argv[1:5]
ledgers = Ledgers(open_store(url), KeyStore(keys), now_ms)
items = open(payments, "rb").read().splitlines()
with open(acks, "a") as log:
    for start in range(0, len(items), 50):
        tickets = ledgers.submit_many("crashcity", items[start:start + 50])
        for ticket in tickets:
            receipt = ticket.result(60)
            if receipt.ok:
                log.write(f"{receipt.id} {receipt.seq}\\n")
        log.flush()
        os.fsync(log.fileno())
"""


def _prepare(url: str, keys: KeyStore, count: int) -> tuple[list[bytes], list[str]]:
    store = open_store(url)
    ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
    bench = BenchCity(ledgers, "crashcity")
    bench.set_up(wallets=400, merchants=5)
    payments = bench.payments(count)
    ledgers.close()
    store.close()
    return payments, bench.merchants


def _wait_for_acks(log: Path, at_least: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("\n") >= at_least:
            return
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        time.sleep(0.02)
    raise AssertionError("the child acknowledged too little in time")


def test_every_acknowledged_payment_survives_kill_9_exactly_once(
    store_url: str, keys: KeyStore, tmp_path: Path
) -> None:
    payments, merchants = _prepare(store_url, keys, 4000)
    (tmp_path / "payments").write_bytes(b"\n".join(payments))
    acks = tmp_path / "acks"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            store_url,
            str(keys.root),
            str(tmp_path / "payments"),
            str(acks),
        ],
        stderr=subprocess.PIPE,
    )
    _wait_for_acks(acks, 400, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    acknowledged = dict(line.split() for line in acks.read_text().splitlines())
    assert acknowledged, "nothing was acknowledged before the kill"

    store = open_store(store_url)
    try:
        for tx_id, seq in acknowledged.items():
            stored = store.find_tx("crashcity", tx_id)
            assert stored is not None, f"acknowledged {tx_id} lost"
            assert stored.seq == int(seq)
        assert verify_city(store, "crashcity").ok
        # The lease died with the child: a new sequencer starts, and a second one cannot.
        ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
        ledgers.sequencer("crashcity")
        with pytest.raises(LeaseHeld):
            Ledgers(store, keys, lambda: 0).sequencer("crashcity")
        receipts = ledgers.execute_many("crashcity", payments, timeout=120)
        for receipt in receipts:
            if receipt.id in acknowledged:
                assert receipt.duplicate and receipt.seq == int(acknowledged[receipt.id])
        assert all(r.ok for r in receipts), {r.code for r in receipts}
        ledgers.close()
        _each_payment_counted_once(store, merchants, payments)
        assert verify_city(store, "crashcity").ok
    finally:
        store.close()


def _each_payment_counted_once(store: object, merchants: list[str], payments: list[bytes]) -> None:
    expected: dict[str, int] = dict.fromkeys(merchants, 0)
    for envelope in payments:
        _, command = c.decode_envelope(envelope)
        assert isinstance(command, c.Pay)
        expected[command.merchant] += command.amount
    for merchant, total in expected.items():
        raw = store.state_value("crashcity", f"m:{merchant}")  # type: ignore[attr-defined]
        assert msgspec.json.decode(raw)["balance"] == total


def test_a_command_for_a_wallet_key_it_does_not_hold_changes_nothing_after_restart(
    store_url: str, keys: KeyStore
) -> None:
    """A restarted sequencer rebuilds the same state: rejected and accepted alike."""
    store = open_store(store_url)
    ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
    bench = BenchCity(ledgers, "crashcity")
    bench.set_up(wallets=3, merchants=1)
    before = dict(store.state("crashcity"))
    thief = nacl.signing.SigningKey.generate()
    forged = sign_command(
        c.Pay(
            id=new_id(),
            city="crashcity",
            wallet="w-0000000",
            merchant=bench.merchants[0],
            amount=100,
            evidence="",
        ),
        [thief],
    )
    # A stranger's key: refused and not even recorded (unknown_signer).
    assert ledgers.execute("crashcity", forged).code == "unknown_signer"
    ledgers.close()
    assert dict(store.state("crashcity")) == before
    restarted = Ledgers(store, keys, lambda: int(time.time() * 1000))
    assert restarted.sequencer("crashcity").state.wallets["w-0000000"].balance() > 0
    assert (
        public_key_hex(thief)
        not in restarted.sequencer("crashcity").state.wallets["w-0000000"].keys
    )
    restarted.close()
    store.close()
