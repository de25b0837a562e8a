"""A writer that never hangs: whatever the store does, every command gets an answer.

The store here is the real SQLite or PostgreSQL store, wrapped by FaultyStore, which
raises or hangs on chosen reads (find_tx) and writes (append_block) for one city.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import nacl.signing
import pytest
import structlog.testing

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.limits import CLOCK_SKEW_MS_MAX
from localpay.ledger.blocks import BlockRecord, TxRecord, decode_header
from localpay.ledger.ports import LeaseHeld, Store, StoreError
from localpay.ledger.receipt import ClockSkew, LookupFailed, Receipt, SequencerStopped
from localpay.ledger.sequencer import Sequencer
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.tickets import Ticket
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import create_city
from localpay.services.cities.verify import verify_city
from localpay.sim.bench import BenchCity

DAY_MS = 86_400_000
#: However the store fails, every ticket must be answered within this.
ANSWER_BOUND_S = 60.0

Hook = Callable[[str], None]


class Crash(BaseException):
    """Not an Exception: what a bug in a stage looks like (no handler expects it)."""


class FaultyStore:
    """A real store whose find_tx and append_block first run a hook, which may raise,
    sleep or block; everything else goes straight to the real store."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.on_find: Hook | None = None
        self.on_append: Hook | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def find_tx(self, city: str, tx_id: str) -> TxRecord | None:
        if self.on_find is not None:
            self.on_find(city)
        return self.inner.find_tx(city, tx_id)

    def append_block(self, city: str, block: BlockRecord) -> None:
        if self.on_append is not None:
            self.on_append(city)
        self.inner.append_block(city, block)


def raise_once(exc: BaseException, city: str | None = None, after: int = 0) -> Hook:
    """Raise exc on the (after+1)-th call for city (any city if None), then never again."""
    calls = [0]
    lock = threading.Lock()

    def hook(for_city: str) -> None:
        if city is not None and for_city != city:
            return
        with lock:
            calls[0] += 1
            hit = calls[0] == after + 1
        if hit:
            raise exc

    return hook


def block_until(released: threading.Event, city: str, entered: threading.Event) -> Hook:
    """Hang every call for city until released (a store that stopped answering)."""

    def hook(for_city: str) -> None:
        if for_city == city:
            entered.set()
            released.wait()

    return hook


def sleep_each(seconds: float) -> Hook:
    def hook(_: str) -> None:
        time.sleep(seconds)

    return hook


@pytest.fixture
def faulty(store: Store) -> FaultyStore:
    return FaultyStore(store)


def make_ledgers(store: FaultyStore, keys: KeyStore, clock: Callable[[], int] = now_ms) -> Ledgers:
    return Ledgers(store, keys, clock)  # type: ignore[arg-type]  # FaultyStore is a Store


@pytest.fixture
def ledgers(faulty: FaultyStore, keys: KeyStore) -> Iterator[Ledgers]:
    ledgers = make_ledgers(faulty, keys)
    try:
        yield ledgers
    finally:
        faulty.on_find = faulty.on_append = None
        ledgers.close()


def bench_city(ledgers: Ledgers, city: str, wallets: int = 100) -> BenchCity:
    bench = BenchCity(ledgers, city)
    bench.set_up(wallets, 3)
    return bench


def answers(tickets: list[Ticket[Receipt]]) -> list[Receipt | BaseException]:
    """Each ticket's receipt or exception; fails the test if one is not answered in time."""
    deadline = time.monotonic() + ANSWER_BOUND_S
    out: list[Receipt | BaseException] = []
    for n, ticket in enumerate(tickets):
        left = deadline - time.monotonic()
        try:
            error = ticket.exception(max(left, 0.001))
        except TimeoutError:
            unanswered = sum(not t.done() for t in tickets)
            pytest.fail(f"ticket {n}: {unanswered} of {len(tickets)} never answered")
        out.append(error if error is not None else ticket.result())
    return out


def receipts_of(results: list[Receipt | BaseException]) -> list[Receipt]:
    return [r for r in results if isinstance(r, Receipt)]


# -- reads that fail -------------------------------------------------------------------


def mixed_commands(bench: BenchCity, durable: list[bytes], fresh: int) -> list[bytes]:
    """Fresh payments with repeats of durable ones between them (each repeat is a
    duplicate lookup in the store)."""
    items = bench.payments(fresh, seed=11)
    for n, repeat in enumerate(durable):
        items.insert(n * 5, repeat)
    return items


def test_a_failed_duplicate_lookup_is_a_retryable_answer_and_the_rest_complete(
    faulty: FaultyStore, ledgers: Ledgers
) -> None:
    bench = bench_city(ledgers, "readcity")
    durable = bench.payments(500, seed=3)
    assert all(isinstance(r, Receipt) for r in ledgers.execute_many("readcity", durable))
    items = mixed_commands(bench, durable, 2500)
    faulty.on_find = raise_once(StoreError("read failed"), after=100)

    results = answers(ledgers.submit_many("readcity", items))

    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], LookupFailed), failed
    assert sum(r.duplicate for r in receipts_of(results)) == 499
    assert ledgers.sequencer("readcity").running  # one bad read kills nothing


def test_a_builder_killed_by_a_read_answers_every_ticket_and_the_next_use_restarts(
    faulty: FaultyStore, ledgers: Ledgers
) -> None:
    bench = bench_city(ledgers, "deadbuilder")
    durable = bench.payments(500, seed=3)
    ledgers.execute_many("deadbuilder", durable)
    items = mixed_commands(bench, durable, 2500)
    old = ledgers.sequencer("deadbuilder")
    faulty.on_find = raise_once(Crash("the builder's bug"), after=100)

    results = answers(ledgers.submit_many("deadbuilder", items))

    stopped = [r for r in results if isinstance(r, BaseException)]
    assert stopped and all(isinstance(r, SequencerStopped) for r in stopped), stopped[:3]
    assert isinstance(old.failure, Crash)
    # Whatever was acknowledged is durable, and a retry of everything answers each once.
    retried = ledgers.execute_many("deadbuilder", items, timeout=ANSWER_BOUND_S)
    assert ledgers.sequencer("deadbuilder") is not old
    for before, again in zip(results, retried, strict=True):
        if isinstance(before, Receipt) and before.seq is not None:
            assert again.seq == before.seq and again.duplicate
    assert verify_city(faulty.inner, "deadbuilder").ok


# -- writes that fail ------------------------------------------------------------------


def test_a_failed_block_write_answers_every_queued_ticket_and_the_next_use_restarts(
    faulty: FaultyStore, ledgers: Ledgers
) -> None:
    bench = bench_city(ledgers, "writecity")
    items = bench.payments(3000)
    old = ledgers.sequencer("writecity")
    faulty.on_append = raise_once(StoreError("disk full"), after=2)

    results = answers(ledgers.submit_many("writecity", items))

    stopped = [r for r in results if isinstance(r, BaseException)]
    assert stopped and all(isinstance(r, SequencerStopped) for r in stopped)
    written = [r for r in receipts_of(results) if r.seq is not None]
    assert written, "the blocks before the failed one were acknowledged"
    for receipt in written:  # nothing acknowledged is lost
        assert faulty.inner.find_tx("writecity", receipt.id) is not None
    assert not old.running
    retried = ledgers.execute_many("writecity", items, timeout=ANSWER_BOUND_S)
    assert ledgers.sequencer("writecity") is not old
    assert sum(not r.duplicate for r in retried) == len(stopped)
    assert verify_city(faulty.inner, "writecity").ok


def test_no_command_is_answered_while_its_block_is_not_durable(
    faulty: FaultyStore, ledgers: Ledgers
) -> None:
    """A store that withholds durability (the block write hangs): not one receipt may
    come before the write returns. Deterministic where a kill -9 race only sometimes
    lands between a premature answer and the commit."""
    bench = bench_city(ledgers, "durablecity")
    items = bench.payments(200)
    released, entered = threading.Event(), threading.Event()
    faulty.on_append = block_until(released, "durablecity", entered)
    try:
        tickets = ledgers.submit_many("durablecity", items)
        assert entered.wait(ANSWER_BOUND_S), "no block was written"
        time.sleep(0.5)
        early = [t for t in tickets if t.done() and t.exception() is None]
        assert not early, f"{len(early)} receipts before their block was durable"
    finally:
        released.set()
    results = answers(tickets)
    for receipt in receipts_of(results):
        assert receipt.ok and faulty.inner.find_tx("durablecity", receipt.id) is not None


def fresh_sequencer(store: FaultyStore, keys: KeyStore, city: str, **kwargs: Any) -> Sequencer:
    seq = Sequencer(city, store, keys.load(city, OPERATOR), now_ms, **kwargs)  # type: ignore[arg-type]
    return seq.start()


def once_the_lease_is_free(store: FaultyStore, keys: KeyStore, city: str) -> Sequencer:
    """A new sequencer, as soon as the old committer let the lease go (its last write
    returned; it answers that block's commands just before)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return fresh_sequencer(store, keys, city)
        except LeaseHeld:
            assert time.monotonic() < deadline, "the lease was never released"
            time.sleep(0.05)


def test_stop_returns_promptly_while_block_writes_are_slow(
    faulty: FaultyStore, ledgers: Ledgers, keys: KeyStore
) -> None:
    bench = bench_city(ledgers, "slowcity", wallets=20)
    items = bench.payments(600)
    ledgers.close()  # a sequencer of its own, with tiny batches: the builder outruns nothing
    seq = fresh_sequencer(faulty, keys, "slowcity", verify_batch=4, max_block_txs=4)
    faulty.on_append = sleep_each(0.5)
    tickets = seq.submit_many(items)
    time.sleep(0.5)  # the pipeline fills: verifier and builder wait on full hand-offs

    begin = time.monotonic()
    seq.stop(timeout=1.0)
    assert time.monotonic() - begin < 3.0

    results = answers(tickets)
    assert any(isinstance(r, SequencerStopped) for r in results)
    faulty.on_append = None
    again = once_the_lease_is_free(faulty, keys, "slowcity")
    again.stop()
    assert verify_city(faulty.inner, "slowcity").ok


def test_a_hung_write_keeps_the_lease_until_it_returns_but_stop_does_not_wait(
    faulty: FaultyStore, ledgers: Ledgers, keys: KeyStore
) -> None:
    bench = bench_city(ledgers, "hungcity", wallets=20)
    items = bench.payments(200)
    ledgers.close()
    seq = fresh_sequencer(faulty, keys, "hungcity", verify_batch=4, max_block_txs=4)
    released, entered = threading.Event(), threading.Event()
    faulty.on_append = block_until(released, "hungcity", entered)
    tickets = seq.submit_many(items)
    assert entered.wait(10)

    begin = time.monotonic()
    seq.stop(timeout=1.0)
    assert time.monotonic() - begin < 3.0
    deadline = time.monotonic() + 2  # stages woken by stop() answer what they held
    while len(in_hand := [t for t in tickets if not t.done()]) > 4:
        assert time.monotonic() < deadline, f"{len(in_hand)} wait: only the hung block may"
        time.sleep(0.01)
    assert in_hand, "the block being written waits for the store"
    # Fencing: while that write may still land, no other writer gets the city.
    with pytest.raises(LeaseHeld):
        fresh_sequencer(faulty, keys, "hungcity")

    released.set()
    results = answers(tickets)
    assert all(isinstance(r, Receipt) and r.ok for r in answers(in_hand)), "it was written"
    assert sum(isinstance(r, SequencerStopped) for r in results) == len(items) - len(in_hand)
    once_the_lease_is_free(faulty, keys, "hungcity").stop()
    assert verify_city(faulty.inner, "hungcity").ok


def test_one_city_stuck_on_its_store_holds_up_no_other_city(
    faulty: FaultyStore, ledgers: Ledgers
) -> None:
    stuck, other = bench_city(ledgers, "stuckcity", 20), bench_city(ledgers, "othercity", 20)
    durable = stuck.payments(1)
    ledgers.execute_many("stuckcity", durable)
    released, entered = threading.Event(), threading.Event()
    faulty.on_append = block_until(released, "stuckcity", entered)
    hung = ledgers.submit("stuckcity", stuck.payments(1, seed=5)[0])
    assert entered.wait(10)
    # Its builder dies on a repeat's lookup while its committer hangs on the write.
    faulty.on_find = raise_once(Crash("bug"), city="stuckcity")
    with pytest.raises(SequencerStopped):
        ledgers.execute("stuckcity", durable[0], timeout=10)
    restarting = threading.Thread(target=restart_quietly, args=(ledgers, "stuckcity"))
    restarting.start()
    time.sleep(0.3)  # it is now stopping the failed sequencer, stuck on the hung write

    begin = time.monotonic()
    receipt = ledgers.execute("othercity", other.payments(1, seed=9)[0], timeout=10)
    assert receipt.ok and time.monotonic() - begin < 3.0  # the stuck restart waits 5 s
    assert restarting.is_alive(), "the restart was still waiting on the stuck city"

    released.set()
    restarting.join(15)
    assert hung.result(10).ok  # the hung write landed: its answer is the real one
    faulty.on_append = None
    assert ledgers.execute("stuckcity", stuck.payments(1, seed=7)[0], timeout=10).ok


def restart_quietly(ledgers: Ledgers, city: str) -> None:
    """Use the city once; LeaseHeld is fine (the hung write may still hold the lease)."""
    with contextlib.suppress(LeaseHeld):
        ledgers.sequencer(city)


# -- the clock ---------------------------------------------------------------------------


class ShiftedClock:
    """The real clock plus an offset a test can move (a clock that jumps)."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def __call__(self) -> int:
        return now_ms() + self.offset_ms


def open_wallet(city: str) -> bytes:
    key = nacl.signing.SigningKey.generate()
    wallet = c.OpenWallet(
        id=new_id(),
        city=city,
        wallet=f"w-{new_id()[:8]}",
        keys=[public_key_hex(key)],
        custodial=False,
    )
    return sign_command(wallet, [key])


def block_time(store: Store, city: str) -> int:
    head = store.head(city)
    assert head is not None
    return decode_header(head.header_bytes).time_ms


def test_a_forward_clock_jump_is_refused_and_seals_nothing(
    faulty: FaultyStore, keys: KeyStore
) -> None:
    clock = ShiftedClock()
    ledgers = make_ledgers(faulty, keys, clock)
    try:
        create_city(ledgers, "jumpcity", "jump")
        height = ledgers.sequencer("jumpcity").head.height
        clock.offset_ms = 400 * DAY_MS
        with structlog.testing.capture_logs() as logged:
            for _ in range(2):
                with pytest.raises(ClockSkew, match="jumped"):
                    ledgers.execute("jumpcity", open_wallet("jumpcity"))
        assert ledgers.sequencer("jumpcity").head.height == height  # nothing sealed
        assert ledgers.sequencer("jumpcity").block_clock.refusals == 2
        assert [e["event"] for e in logged] == ["clock_skew"]  # once per episode
        clock.offset_ms = 60_000  # the clock is back, within the skew: blocks again
        assert ledgers.execute("jumpcity", open_wallet("jumpcity")).ok
        assert abs(block_time(faulty, "jumpcity") - now_ms()) < CLOCK_SKEW_MS_MAX
        clock.offset_ms = -400 * DAY_MS
        with structlog.testing.capture_logs() as logged, pytest.raises(ClockSkew):
            ledgers.execute("jumpcity", open_wallet("jumpcity"))
        assert [e["event"] for e in logged] == ["clock_skew"]  # a new episode is told
    finally:
        ledgers.close()


def test_a_backward_clock_jump_is_refused_but_a_small_skew_keeps_the_previous_time(
    faulty: FaultyStore, keys: KeyStore
) -> None:
    clock = ShiftedClock()
    ledgers = make_ledgers(faulty, keys, clock)
    try:
        create_city(ledgers, "backcity", "back")
        before = block_time(faulty, "backcity")
        clock.offset_ms = -30_000  # a small step back: the block keeps the head's time
        assert ledgers.execute("backcity", open_wallet("backcity")).ok
        assert block_time(faulty, "backcity") == before
        clock.offset_ms = -2 * CLOCK_SKEW_MS_MAX
        with pytest.raises(ClockSkew):
            ledgers.execute("backcity", open_wallet("backcity"))
    finally:
        ledgers.close()


def test_a_restart_after_a_day_down_is_accepted_but_a_clock_behind_the_head_is_not(
    faulty: FaultyStore, keys: KeyStore
) -> None:
    yesterday = make_ledgers(faulty, keys, ShiftedClock(-DAY_MS))
    try:
        create_city(yesterday, "downcity", "down")
    finally:
        yesterday.close()
    today = make_ledgers(faulty, keys)  # the head is a day old; the clock is right
    try:
        assert today.execute("downcity", open_wallet("downcity")).ok
        assert abs(block_time(faulty, "downcity") - now_ms()) < 60_000
    finally:
        today.close()
    # Sealed a year ahead by a wrong clock: a right clock is now far behind the head.
    ahead = make_ledgers(faulty, keys, ShiftedClock(365 * DAY_MS))
    try:
        assert ahead.execute("downcity", open_wallet("downcity")).ok
    finally:
        ahead.close()
    fixed = make_ledgers(faulty, keys)
    try:
        with pytest.raises(ClockSkew, match="behind"):
            fixed.execute("downcity", open_wallet("downcity"))
    finally:
        fixed.close()


class BrokenClock(ShiftedClock):
    """A clock that raises while broken (a bug in the clock, not a skew)."""

    broken = False

    def __call__(self) -> int:
        if self.broken:
            raise Crash("clock bug")
        return super().__call__()


def test_a_clock_that_raises_answers_its_batch_and_the_next_use_restarts(
    faulty: FaultyStore, keys: KeyStore
) -> None:
    clock = BrokenClock()
    ledgers = make_ledgers(faulty, keys, clock)
    try:
        create_city(ledgers, "brokenclock", "broken")
        clock.broken = True
        tickets = ledgers.submit_many(
            "brokenclock", [open_wallet("brokenclock") for _ in range(50)]
        )
        results = answers(tickets)
        assert all(isinstance(r, SequencerStopped) for r in results), results[:3]
        clock.broken = False
        assert ledgers.execute("brokenclock", open_wallet("brokenclock"), timeout=10).ok
    finally:
        ledgers.close()
