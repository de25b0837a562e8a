"""A command id is applied at most once, forever, without the sequencer holding every id:
a filter in memory answers "new" or "maybe", and the store's index settles each "maybe".
An id from long ago, repeated after a restart, gets its original receipt and no second
effect; the filter's false alarms cost a read and change no answer. Both stores."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.ports import Store
from localpay.ledger.seen import SeenIds
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import Ledgers
from localpay.sim.bench import BenchCity

CITY = "seenville"


@pytest.fixture
def ledgers(store: Store, keys: KeyStore) -> Iterator[Ledgers]:
    ledgers = Ledgers(store, keys, now_ms)
    yield ledgers
    ledgers.close()


@pytest.fixture
def bench(ledgers: Ledgers) -> BenchCity:
    city = BenchCity(ledgers, CITY)
    city.set_up(20, 2)
    return city


def _balance(ledgers: Ledgers, wallet: str) -> int:
    return ledgers.sequencer(CITY).state.wallets[wallet].balance()


def test_an_id_from_long_ago_is_answered_once_after_a_restart(
    store: Store, keys: KeyStore, ledgers: Ledgers, bench: BenchCity
) -> None:
    first_bytes = bench.payments(1, seed=1)[0]
    first = ledgers.execute(CITY, first_bytes)
    assert first.ok
    _, command = c.decode_envelope(first_bytes)
    assert isinstance(command, c.Pay)
    # Many blocks later, and in another process's life (a fresh sequencer from the store).
    later = ledgers.execute_many(CITY, bench.payments(600, seed=2))
    assert all(r.ok for r in later)
    ledgers.close()
    again = Ledgers(store, keys, now_ms)
    try:
        balance = _balance(again, command.wallet)
        assert isinstance(again.sequencer(CITY)._seen, SeenIds)  # no set of every id
        repeat = again.execute(CITY, first_bytes)
        assert repeat.duplicate and repeat.code == Code.OK
        assert (repeat.seq, repeat.height, repeat.result) == (
            first.seq,
            first.height,
            first.result,
        )
        assert _balance(again, command.wallet) == balance  # no second effect
        # Another command under the old id is refused, with no data of the original.
        other = msgspec.structs.replace(command, amount=command.amount + 100)
        reused = again.execute(CITY, sign_command(other, [bench.wallet_keys[command.wallet]]))
        assert reused.code == Code.ID_REUSED and reused.result is None
        assert _balance(again, command.wallet) == balance
        assert again.sequencer(CITY).id_lookups == 2
        # On the chain once.
        ids = [tx.id for tx in store.txs(CITY) if tx.id == first.id]
        assert ids == [first.id]
    finally:
        again.close()


def test_the_filters_false_alarms_cost_a_read_and_change_no_answer(
    ledgers: Ledgers, bench: BenchCity
) -> None:
    sequencer = ledgers.sequencer(CITY)
    # A real filter saturated on purpose: about half of all new ids look "maybe seen".
    noisy = SeenIds(error_rate=0.9)
    for n in range(20_000):
        noisy.add(f"{n:032x}")
    for tx in sequencer.store.txs(CITY):
        noisy.add(tx.id)
    sequencer._seen = noisy
    before = sequencer.id_lookups
    payments = bench.payments(200, seed=3)
    receipts = ledgers.execute_many(CITY, payments)
    assert all(r.ok and not r.duplicate for r in receipts)
    assert sequencer.id_lookups - before > 50  # the store was asked, and said "new"
    # Each applied once, and each repeat still answered with its receipt.
    repeats = ledgers.execute_many(CITY, payments[:20])
    assert all(r.duplicate for r in repeats)
    assert [r.seq for r in repeats] == [r.seq for r in receipts[:20]]
