"""The refund window: a payment is refundable for its city's window (default 365 days),
refused `refund_window_closed` after it, and its record leaves the state a grace later,
at a block's end, the same way on the sequencer and in every replay (verify, a witness
writing its own copy), while its transaction stays on the chain. Both stores."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.ports import Store
from localpay.ledger.readahead import prepared_blocks
from localpay.ledger.receipt import Receipt
from localpay.ledger.replay import Replayer
from localpay.ledger.signatures import EnvelopeChecker, public_key_hex, sign_command
from localpay.ledger.state import RETIRE_GRACE_MS, CityState, Payment
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city
from localpay.services.cities.verify import verify_city
from localpay.testing.builders import policy

CITY = "refundville"
DAY_MS = 86_400_000
WINDOW_MS = c.DEFAULT_REFUND_WINDOW_DAYS * DAY_MS
START_MS = 1_780_000_000_000


@dataclass
class Clock:
    now: int = START_MS

    def __call__(self) -> int:
        return self.now


@dataclass
class City:
    store: Store
    keys: KeyStore
    clock: Clock
    ledgers: Ledgers
    wallet: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    merchant: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)

    def run(self, command: c.Command, key: nacl.signing.SigningKey | None = None) -> Receipt:
        if key is None:
            genesis = self.ledgers.sequencer(CITY).state.genesis
            assert genesis is not None
            data = OfficialSigner(self.keys, CITY, dict(genesis.approvals)).sign(command)
        else:
            data = sign_command(command, [key])
        return self.ledgers.execute(CITY, data)

    def pay(self, amount: int) -> Receipt:
        pay = c.Pay(
            id=new_id(), city=CITY, wallet="w-ann", merchant="m-cafe", amount=amount, evidence=""
        )
        return self.run(pay, self.wallet)

    def refund(self, payment: str, amount: int) -> Receipt:
        refund = c.Refund(id=new_id(), city=CITY, merchant="m-cafe", payment=payment, amount=amount)
        return self.run(refund, self.merchant)

    def restart(self) -> None:
        self.ledgers.close()
        self.ledgers = Ledgers(self.store, self.keys, self.clock, max_clock_skew_ms=None)


@pytest.fixture
def city(store_url: str, keys: KeyStore) -> Iterator[City]:
    store = open_store(store_url)
    clock = Clock()
    built = City(store, keys, clock, Ledgers(store, keys, clock, max_clock_skew_ms=None))
    assert create_city(built.ledgers, CITY, "Refundville").ok
    setup: list[tuple[c.Command, nacl.signing.SigningKey | None]] = [
        (
            c.DefineProgram(
                id=new_id(), city=CITY, program="general", policy=policy("general", refundable=True)
            ),
            None,
        ),
        (
            c.Mint(id=new_id(), city=CITY, program="general", amount=1_000_000, won_ref="trust"),
            None,
        ),
        (
            c.OpenWallet(
                id=new_id(),
                city=CITY,
                wallet="w-ann",
                keys=[public_key_hex(built.wallet)],
                custodial=False,
            ),
            built.wallet,
        ),
        (
            c.RegisterMerchant(
                id=new_id(),
                city=CITY,
                merchant="m-cafe",
                keys=[public_key_hex(built.merchant)],
                category="cafe",
                area="gurae",
                annual_revenue=1,
                registration_hash="0" * 64,
            ),
            None,
        ),
        (c.ApproveMerchant(id=new_id(), city=CITY, merchant="m-cafe"), None),
        (
            c.Credit(
                id=new_id(),
                city=CITY,
                program="general",
                wallet="w-ann",
                amount=500_000,
                origin="t",
            ),
            None,
        ),
    ]
    for command, key in setup:
        assert built.run(command, key).ok, command
    yield built
    built.ledgers.close()
    store.close()


def _rows(store: Store) -> dict[str, bytes]:
    return dict(store.state(CITY))


def test_a_refund_inside_the_window_works_and_after_it_is_refused_by_name(city: City) -> None:
    paid = city.pay(10_000)
    assert paid.ok
    city.clock.now += WINDOW_MS - 1
    assert city.refund(paid.id, 4_000).ok  # the last millisecond of the window
    city.clock.now += 1
    late = city.refund(paid.id, 1_000)
    assert late.code == Code.REFUND_WINDOW_CLOSED
    assert late.message == "the payment is older than the city's refund window"
    # Refused with nothing changed: what is left of the payment is still 6,000.
    state = city.ledgers.sequencer(CITY).state
    assert state.payments[paid.id].refunded == 4_000
    assert state.merchants["m-cafe"].balance == 6_000


def test_old_payment_records_retire_at_a_block_end_and_stay_on_the_chain(city: City) -> None:
    old = city.pay(10_000)
    city.clock.now += 100 * DAY_MS
    recent = city.pay(20_000)
    assert f"x:{old.id}" in _rows(city.store)
    # The grace after the window: still told why, and the record still there.
    city.clock.now = START_MS + WINDOW_MS + RETIRE_GRACE_MS - 1
    assert city.refund(old.id, 1).code == Code.REFUND_WINDOW_CLOSED
    assert f"x:{old.id}" in _rows(city.store)
    # The next block at or past the grace retires the old record, in memory and store.
    city.clock.now += 1
    assert city.pay(1_000).ok
    rows = _rows(city.store)
    assert f"x:{old.id}" not in rows and f"x:{recent.id}" in rows
    assert old.id not in city.ledgers.sequencer(CITY).state.payments
    assert city.refund(old.id, 1).code == Code.PAYMENT_NOT_FOUND
    # Still on the chain: found by id, with its original receipt.
    stored = city.store.find_tx(CITY, old.id)
    assert stored is not None and stored.kind == "pay" and stored.seq == old.seq
    again = city.run(
        c.Pay(id=old.id, city=CITY, wallet="w-ann", merchant="m-cafe", amount=10_000, evidence=""),
        city.wallet,
    )
    assert again.duplicate and again.seq == old.seq and again.code == Code.OK
    # verify replays from genesis, retires the same records, and finds the same state.
    report = verify_city(city.store, CITY)
    assert report.ok, report.problems
    # After a restart the sequencer resumes from the stored rows: still retired.
    city.restart()
    assert old.id not in city.ledgers.sequencer(CITY).state.payments
    assert recent.id in city.ledgers.sequencer(CITY).state.payments


def test_a_witness_copy_retires_the_same_records_as_the_sequencer(
    city: City, store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    old = city.pay(10_000)
    city.clock.now += WINDOW_MS + RETIRE_GRACE_MS
    assert city.pay(1_000).ok
    city.ledgers.close()
    if store_url.startswith("sqlite"):
        copy_url = f"sqlite:///{tmp_path}/witness-copy.db"
    else:
        copy_url = request.getfixturevalue("fresh_pg_url")()
    copy = open_store(copy_url)
    try:
        replayer = Replayer(CITY)  # a witness's replay: apply, then write its record
        checker = EnvelopeChecker(0)
        for prepared in prepared_blocks(city.store, CITY, checker):
            replayer.apply(prepared)
            copy.append_block(CITY, replayer.record(prepared.block, prepared.txs))
        checker.close()
        assert _rows(copy) == _rows(city.store)
        assert f"x:{old.id}" not in _rows(copy)
        # A witness restarting from its copy resumes with the same hot state.
        resumed = Replayer.resume(copy, CITY)
        assert resumed.state.payments.keys() == replayer.state.payments.keys()
        assert resumed.compare_state(city.store.state(CITY)) == []
    finally:
        copy.close()


def test_localpay_init_sets_a_citys_refund_window(store_url: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", store_url]
    command += ["--keys", str(tmp_path / "keys"), "init", "--city", "monthly"]
    command += ["--name", "Monthly", "--refund-window-days", "30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    store = open_store(store_url)
    try:
        raw = store.state_value("monthly", "g")
        assert raw is not None and b'"refund_window_days":30' in raw
        state = CityState("monthly")
        state.load_entity("g", raw)
        paid = Payment("0" * 32, "w-ann", "m-cafe", 100, 0, START_MS, [])
        assert state.refundable(paid, START_MS + 30 * DAY_MS - 1)
        assert not state.refundable(paid, START_MS + 30 * DAY_MS)
    finally:
        store.close()
    refused = subprocess.run(
        [*command[:-1], "0"], capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode != 0  # out of range: refused by the option itself
