"""The Store contract, checked on every store (SQLite and PostgreSQL) through `store_url`.

A city is built through the real services (Ledgers, create_city, officials'
signatures) and every Store method is read back; then the lease, reopening,
atomicity of append_block and the errors a broken store must give.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import nacl.signing
import psycopg
import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql import migrate
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.policy import Policy
from localpay.ledger.blocks import (
    BlockHeader,
    BlockRecord,
    TxRecord,
    decode_header,
    encode_header,
    header_hash,
)
from localpay.ledger.ports import LeaseHeld, Store, StoreError
from localpay.ledger.receipt import Receipt
from localpay.ledger.replay import Replayer
from localpay.ledger.sequencer import Sequencer
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner, create_city

if TYPE_CHECKING:
    from localpay.testing.postgres import PgServer

CITY = "gimpo"
# What a refused append_block may raise: SQLiteStore lets the driver's error through.
WRITE_ERRORS = (StoreError, sqlite3.IntegrityError)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


# -- a city built through the services --------------------------------------------------


@dataclass
class City:
    url: str
    store: Store
    keys: KeyStore
    receipts: list[Receipt]


def run_city(ledgers: Ledgers, keys: KeyStore, city: str = CITY) -> list[Receipt]:
    """Genesis, a program, money, a wallet, a merchant, payments: like /tmp/smoke.py."""
    receipts = [create_city(ledgers, city, "김포시")]
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    officials = OfficialSigner(keys, city, genesis.approvals)

    def official(command: c.Command) -> Receipt:
        return ledgers.execute(city, officials.sign(command))

    policy = Policy(
        name="일반",
        allowed_categories=[],
        denied_categories=["department_store"],
        areas=[],
        revenue_cap=3_000_000_000,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=1_500_000,
        transferable=True,
        refundable=True,
    )
    receipts.append(
        official(c.DefineProgram(id=new_id(), city=city, program="general", policy=policy))
    )
    receipts.append(
        official(c.Mint(id=new_id(), city=city, program="general", amount=1_000_000, won_ref="t"))
    )
    wallet_key = nacl.signing.SigningKey.generate()
    receipts.append(
        ledgers.execute(
            city,
            sign_command(
                c.OpenWallet(
                    id=new_id(),
                    city=city,
                    wallet="w-alice",
                    keys=[public_key_hex(wallet_key)],
                    custodial=False,
                ),
                [wallet_key],
            ),
        )
    )
    receipts.append(
        official(
            c.Credit(
                id=new_id(),
                city=city,
                program="general",
                wallet="w-alice",
                amount=50_000,
                origin="purchase",
            )
        )
    )
    merchant_key = nacl.signing.SigningKey.generate()
    receipts.append(
        official(
            c.RegisterMerchant(
                id=new_id(),
                city=city,
                merchant="m-bakery",
                keys=[public_key_hex(merchant_key)],
                category="bakery",
                area="guraedong",
                annual_revenue=100_000_000,
                registration_hash="0" * 64,
            )
        )
    )
    receipts.append(official(c.ApproveMerchant(id=new_id(), city=city, merchant="m-bakery")))
    payment = new_id()
    pay = sign_command(
        c.Pay(
            id=payment, city=city, wallet="w-alice", merchant="m-bakery", amount=17_000, evidence=""
        ),
        [wallet_key],
    )
    receipts.append(ledgers.execute(city, pay))
    again = ledgers.execute(city, pay)  # same id: the original answer, no second effect
    assert again.duplicate and again.seq == receipts[-1].seq
    refund = c.Refund(id=new_id(), city=city, merchant="m-bakery", payment=payment, amount=7_000)
    receipts.append(ledgers.execute(city, sign_command(refund, [merchant_key])))
    # More than the wallet holds: refused by the ledger and logged (an amount of 0 would be
    # refused when decoded, never logged).
    greedy = c.Pay(
        id=new_id(), city=city, wallet="w-alice", merchant="m-bakery", amount=10**9, evidence=""
    )
    receipts.append(ledgers.execute(city, sign_command(greedy, [wallet_key])))
    assert ledgers.execute(city, b"garbage").seq is None  # malformed: never logged
    return receipts


@pytest.fixture
def city(store_url: str, store: Store, keys: KeyStore) -> Iterator[City]:
    ledgers = Ledgers(store, keys, now_ms)
    try:
        receipts = run_city(ledgers, keys)
    finally:
        ledgers.close()
    assert [r.code for r in receipts].count("ok") == len(receipts) - 1
    yield City(store_url, store, keys, receipts)


# -- synthetic blocks, for what the services never produce ----------------------------


def synthetic_block(
    height: int,
    first_seq: int,
    txs: list[tuple[str, bytes]] | int,
    state: list[tuple[str, bytes]] | None = None,
    city: str = CITY,
) -> BlockRecord:
    """A block the store accepts: it checks no signature, only keys and order."""
    if isinstance(txs, int):
        txs = [(os.urandom(16).hex(), os.urandom(300)) for _ in range(txs)]
    records = [
        TxRecord(first_seq + n, height, tx_id, "pay", envelope, b'{"code":"ok"}')
        for n, (tx_id, envelope) in enumerate(txs)
    ]
    header = BlockHeader(
        city=city,
        height=height,
        prev="00" * 32,
        time_ms=now_ms(),
        tx_count=len(records),
        tx_root="11" * 32,
        log_size=first_seq + len(records),
        log_root="22" * 32,
    )
    header_bytes = encode_header(header)
    return BlockRecord(
        header=header,
        header_bytes=header_bytes,
        hash=header_hash(header_bytes),
        signature=os.urandom(64),
        checkpoint=f"localpay.city/{city}/0000\n{height}\nroot\n",
        frontier=[os.urandom(32) for _ in range(height % 5)],
        txs=records,
        state=state or [],
    )


def snapshot(store: Store, city: str = CITY) -> dict[str, object]:
    """Everything a store says about a city, for before/after comparisons."""
    return {
        "cities": store.cities(),
        "head": store.head(city),
        "blocks": list(store.blocks(city)),
        "txs": list(store.txs(city)),
        "ids": sorted(store.tx_ids(city)),
        "state": list(store.state(city)),
    }


def applied_migrations(url: str) -> list[tuple[int, str]]:
    if is_sqlite(url):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            return list(conn.execute("SELECT version, name FROM schema_migrations ORDER BY 1"))
    with psycopg.connect(url) as pg:
        return list(pg.execute("SELECT version, name FROM schema_migrations ORDER BY 1"))


def execute_sql(url: str, statement: str) -> None:
    if is_sqlite(url):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn, conn:
            conn.execute(statement)
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(statement)


def dialect(url: str) -> str:
    return "sqlite" if is_sqlite(url) else "postgres"


# -- reads --------------------------------------------------------------------------


def test_every_read_returns_what_the_services_wrote(city: City) -> None:
    store = city.store
    assert store.cities() == [CITY]

    blocks = list(store.blocks(CITY))
    assert [b.height for b in blocks] == list(range(len(blocks)))
    assert store.head(CITY) == blocks[-1]
    for b in blocks:
        assert all(type(v) is bytes for v in (b.header_bytes, b.hash, b.signature))
        assert all(type(h) is bytes and len(h) == 32 for h in b.frontier)
        assert header_hash(b.header_bytes) == b.hash
        assert decode_header(b.header_bytes).height == b.height

    txs = list(store.txs(CITY))
    assert [t.seq for t in txs] == list(range(len(txs)))
    assert len(txs) == decode_header(blocks[-1].header_bytes).log_size == len(city.receipts)
    assert all(type(t.envelope) is bytes and type(t.result) is bytes for t in txs)
    for b in blocks:
        in_block = store.block_txs(CITY, b.height)
        assert in_block == [t for t in txs if t.height == b.height]
        assert decode_header(b.header_bytes).tx_count == len(in_block)
    assert sorted(store.tx_ids(CITY)) == sorted(t.id for t in txs)

    for receipt in city.receipts:
        assert receipt.seq is not None
        found = store.find_tx(CITY, receipt.id)
        assert found == txs[receipt.seq]
        assert (found.seq, found.height) == (receipt.seq, receipt.height)
        assert found.decoded_result() == receipt.result

    rows = list(store.state(CITY))
    keys = [k for k, _ in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) > 0
    for key, value in rows:
        assert type(value) is bytes
        assert store.state_value(CITY, key) == value

    # The chain replays from the store alone, and the stored state is what it produces.
    replayer = Replayer(CITY)
    for b in store.blocks(CITY):
        replayer.feed(b, store.block_txs(CITY, b.height))
    assert replayer.txs_replayed == len(txs)
    assert replayer.compare_state(store.state(CITY)) == []


def test_ranges_are_half_open_and_ordered(city: City) -> None:
    store = city.store
    blocks, txs = list(store.blocks(CITY)), list(store.txs(CITY))
    n, m = len(blocks), len(txs)
    assert n >= 5 and m >= 5
    assert list(store.blocks(CITY, 2, 4)) == blocks[2:4]
    assert list(store.blocks(CITY, 3)) == blocks[3:]
    assert list(store.blocks(CITY, 0, 1)) == blocks[:1]
    assert list(store.blocks(CITY, end=2)) == blocks[:2]
    assert list(store.blocks(CITY, n)) == []
    assert list(store.blocks(CITY, 3, 3)) == []
    assert list(store.blocks(CITY, 4, 2)) == []
    assert list(store.txs(CITY, 2, 5)) == txs[2:5]
    assert list(store.txs(CITY, m - 1)) == txs[m - 1 :]
    assert list(store.txs(CITY, end=3)) == txs[:3]
    assert list(store.txs(CITY, m)) == []
    assert list(store.txs(CITY, 5, 5)) == []
    assert store.block_txs(CITY, n) == []


def test_unknown_city_and_ids_read_as_empty(city: City) -> None:
    store = city.store
    assert store.head("seoul") is None
    assert list(store.blocks("seoul")) == []
    assert list(store.txs("seoul")) == []
    assert store.block_txs("seoul", 0) == []
    assert list(store.tx_ids("seoul")) == []
    assert list(store.state("seoul")) == []
    assert store.state_value("seoul", "g") is None
    assert store.state_value(CITY, "no-such-key") is None
    assert store.find_tx(CITY, "0" * 32) is None
    assert store.find_tx("seoul", city.receipts[0].id) is None  # ids are per city


def test_another_store_and_other_threads_read_the_same(city: City) -> None:
    expected = snapshot(city.store)
    other = open_store(city.url)
    try:
        assert snapshot(other) == expected
        seen: list[dict[str, object]] = []
        threads = [
            threading.Thread(target=lambda s=s: seen.append(snapshot(s)))
            for s in (city.store, other, city.store)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [expected] * 3
    finally:
        other.close()


def test_two_cities_share_a_store_without_mixing(store: Store, keys: KeyStore) -> None:
    ledgers = Ledgers(store, keys, now_ms)
    try:
        gimpo = run_city(ledgers, keys, "gimpo")
        seoul = run_city(ledgers, keys, "seoul")
    finally:
        ledgers.close()
    assert store.cities() == ["gimpo", "seoul"]
    for name, receipts in (("gimpo", gimpo), ("seoul", seoul)):
        assert sorted(store.tx_ids(name)) == sorted(r.id for r in receipts)
        assert [t.seq for t in store.txs(name)] == list(range(len(receipts)))
        assert all(decode_header(b.header_bytes).city == name for b in store.blocks(name))
    with store.lease("gimpo"), store.lease("seoul"):  # leases are per city
        pass


def test_the_runner_takes_one_qmark_text_on_both_stores(store: SqlStore) -> None:
    """The repositories' convention: `?` placeholders; a literal `%` stays a literal."""
    assert store.sql("SELECT ? || '%', '%s', ? + 1", ("50", 41)) == [("50%", "%s", 42)]
    assert store.sql_batch([("SELECT ?", ("a",)), ("SELECT 'b%'", ())]) == [[("a",)], [("b%",)]]


def test_dropping_a_city_removes_it_whole_and_only_it(store: SqlStore) -> None:
    """What a refused whole-chain import relies on (services/portability): nothing of the
    city is left, not even what is derived from its chain, and no other city is touched."""
    index = SqlHistoryIndex(store)
    for name in ("gimpo", "seoul"):
        store.append_block(name, synthetic_block(0, 0, 3, [("k", b"v")], city=name))
        store.append_block(name, synthetic_block(1, 3, 2, city=name))
        assert store.add_cosignature(name, 5, "aa" * 32, "— a AAAA", 1)
        index.add_parties(name, [("w-a", 0), ("w-a", 4)])
    seoul = {**snapshot(store, "seoul"), "cities": ["seoul"]}
    store.drop_city("gimpo")
    assert store.cities() == ["seoul"]
    assert snapshot(store, "gimpo") == {
        "cities": ["seoul"],
        "head": None,
        "blocks": [],
        "txs": [],
        "ids": [],
        "state": [],
    }
    assert store.cosignatures("gimpo", 5) == []
    assert index.high_water("gimpo") == -1
    assert snapshot(store, "seoul") == seoul
    assert [t.seq for t in index.account_txs("seoul", "w-a", None, 10)] == [4, 0]
    assert len(store.cosignatures("seoul", 5)) == 1
    store.drop_city("nowhere")  # a city that is not there: nothing to do


# -- writes -------------------------------------------------------------------------


def test_state_rows_round_trip_any_bytes_and_the_last_write_wins(store: Store) -> None:
    odd = bytes(range(256)) * 3
    store.append_block(
        CITY,
        synthetic_block(
            0,
            0,
            1,
            [("g", b"genesis"), ("w:지갑", odd), ("empty", b""), ("w:a", b"first")],
        ),
    )
    assert dict(store.state(CITY)) == {
        "g": b"genesis",
        "w:지갑": odd,
        "empty": b"",
        "w:a": b"first",
    }
    # A later block overwrites; a key written twice in one block keeps its last value.
    store.append_block(
        CITY, synthetic_block(1, 1, 1, [("w:a", b"second"), ("w:b", b"x"), ("w:a", b"third")])
    )
    assert store.state_value(CITY, "w:a") == b"third"
    assert store.state_value(CITY, "w:b") == b"x"
    assert store.state_value(CITY, "w:지갑") == odd
    assert store.state_value(CITY, "empty") == b""
    keys = [k for k, _ in store.state(CITY)]
    assert keys == sorted(keys)  # code point order, like Python's
    assert store.cities() == [CITY]


def test_a_full_block_round_trips(store: Store) -> None:
    """The largest block a sequencer seals: 4096 txs, twice as many state rows."""
    store.append_block(CITY, synthetic_block(0, 0, 1))
    big = synthetic_block(1, 1, 4096, [(f"w:{n:06d}", os.urandom(200)) for n in range(8192)])
    started = time.perf_counter()
    store.append_block(CITY, big)
    elapsed = time.perf_counter() - started
    assert store.block_txs(CITY, 1) == big.txs
    assert list(store.txs(CITY, 1)) == big.txs
    assert len(set(store.tx_ids(CITY))) == 4097
    assert sorted(store.state(CITY)) == sorted(big.state)
    assert store.head(CITY) is not None
    assert elapsed < 10, f"appending 4096 txs took {elapsed:.1f}s"


def test_long_reads_page_through_everything(store: Store) -> None:
    """Both stores read in keyset pages (adapters/sql/chain.py): the same rows with tiny pages."""
    seq = 0
    for height in range(7):
        block = synthetic_block(height, seq, 3, [(f"k{height}:{n}", b"v") for n in range(3)])
        store.append_block(CITY, block)
        seq += len(block.txs)
    expected = snapshot(store)
    setattr(store, "page_rows", 2)  # noqa: B010 (not on the Store port: the stores' own)
    setattr(store, "id_page_rows", 2)  # noqa: B010
    assert snapshot(store) == expected
    assert len(expected["blocks"]) == 7  # type: ignore[arg-type]
    assert len(expected["txs"]) == 21  # type: ignore[arg-type]
    assert list(store.txs(CITY, 4, 9)) == expected["txs"][4:9]  # type: ignore[index]
    # Nested reads while a paged read is in progress (what verify does).
    for b in store.blocks(CITY):
        assert len(store.block_txs(CITY, b.height)) == 3


def test_append_block_is_all_or_nothing(city: City) -> None:
    store = city.store
    before = snapshot(store)
    head = store.head(CITY)
    assert head is not None
    height = head.height + 1
    size = decode_header(head.header_bytes).log_size
    existing = city.receipts[1].id
    changes = [("c", b"clobbered"), ("w:new", b"new")]

    bad_blocks = {
        "an id twice in the block": synthetic_block(
            height, size, [("a" * 32, b"{}"), ("a" * 32, b"{}")], changes
        ),
        "an id from an earlier block": synthetic_block(
            height, size, [("b" * 32, b"{}"), (existing, b"{}")], changes
        ),
        "a height already written": synthetic_block(head.height, size, 2, changes),
        "a seq already written": synthetic_block(height, size - 1, 2, changes),
    }
    for why, block in bad_blocks.items():
        with pytest.raises(WRITE_ERRORS):
            store.append_block(CITY, block)
        assert snapshot(store) == before, why
        assert store.block_txs(CITY, height) == [], why
        assert store.state_value(CITY, "w:new") is None, why

    # The store is still usable: the next good block goes in whole.
    good = synthetic_block(height, size, 2, changes)
    store.append_block(CITY, good)
    assert store.head(CITY) == next(iter(store.blocks(CITY, height)))
    assert store.block_txs(CITY, height) == good.txs
    assert store.state_value(CITY, "c") == b"clobbered"


# -- the lease -------------------------------------------------------------------------


def test_lease_is_exclusive_across_stores_and_released_on_exit(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    try:
        with first.lease(CITY):
            with pytest.raises(LeaseHeld, match=CITY), second.lease(CITY):
                pass
            with pytest.raises(LeaseHeld), first.lease(CITY):  # not reentrant either
                pass
            with second.lease("seoul"):  # another city is another lease
                pass
        with second.lease(CITY), pytest.raises(LeaseHeld), first.lease(CITY):
            pass
        with pytest.raises(ZeroDivisionError), first.lease(CITY):
            _ = 1 / 0
        with second.lease(CITY):  # released by the exception too
            pass
    finally:
        first.close()
        second.close()


_HOLD_LEASE = """
import sys, time
from localpay.bootstrap import open_store
store = open_store(sys.argv[1])
with store.lease(sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_lease_of_a_killed_process_is_released(store_url: str) -> None:
    store = open_store(store_url)  # first, so the two never migrate at once
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LEASE, store_url, CITY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld), store.lease(CITY):
            pass
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait()
        deadline = time.monotonic() + 15
        while True:
            try:
                with store.lease(CITY):
                    break
            except LeaseHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_second_sequencer_on_a_city_fails_to_start(store_url: str, keys: KeyStore) -> None:
    first_store, second_store = open_store(store_url), open_store(store_url)
    first = Ledgers(first_store, keys, now_ms)
    second = Ledgers(second_store, keys, now_ms)
    try:
        create_city(first, CITY, "김포시")  # its sequencer keeps running, holding the lease
        with pytest.raises(LeaseHeld, match=CITY):
            second.sequencer(CITY)
        with pytest.raises(LeaseHeld):
            Sequencer(CITY, second_store, keys.load(CITY, OPERATOR), now_ms).start()
        first.close()
        # Once the first stopped, the second takes over where the chain ends.
        sequencer = second.sequencer(CITY)
        assert sequencer.running
        wallet_key = nacl.signing.SigningKey.generate()
        receipt = second.execute(
            CITY,
            sign_command(
                c.OpenWallet(
                    id=new_id(),
                    city=CITY,
                    wallet="w-bob",
                    keys=[public_key_hex(wallet_key)],
                    custodial=False,
                ),
                [wallet_key],
            ),
        )
        assert receipt.ok and (receipt.seq, receipt.height) == (1, 1)
    finally:
        first.close()
        second.close()
        first_store.close()
        second_store.close()


# -- opening -------------------------------------------------------------------------


def test_reopening_applies_no_migration_and_keeps_the_data(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(city.store)
    applied = applied_migrations(city.url)
    assert [v for v, _ in applied] == [v for v, _, _ in migrate.migration_files(dialect(city.url))]
    city.store.close()

    def no_migration(script: str) -> list[str]:
        raise AssertionError("a migration ran again on reopen")

    monkeypatch.setattr(migrate, "statements", no_migration)
    reopened = open_store(city.url)
    try:
        assert snapshot(reopened) == before
        assert applied_migrations(city.url) == applied
    finally:
        reopened.close()


def test_stores_opening_together_on_a_fresh_postgres_migrate_once(
    fresh_pg_url: Callable[[], str],
) -> None:
    url = fresh_pg_url()
    start = threading.Barrier(4)
    opened: list[Store] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_store(url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in opened:
        s.close()
    assert failures == []
    assert [v for v, _ in applied_migrations(url)] == [
        v for v, _, _ in migrate.migration_files("postgres")
    ]


def test_a_corrupt_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(os.urandom(16384))
    with pytest.raises(StoreError, match=r"ledger\.db"):
        open_store(f"sqlite:///{path}")


def test_a_schema_newer_than_the_code_is_a_store_error(store_url: str) -> None:
    open_store(store_url).close()
    execute_sql(store_url, "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql')")
    with pytest.raises(StoreError, match="9999"):
        open_store(store_url)


# -- PostgreSQL connection failures -----------------------------------------------------

SECRET = "Sup3r-Secret-pw"


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    told = "".join(traceback.format_exception(exc)) + repr(exc)
    for secret in secrets:
        assert secret not in told


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://localpay:{pw}@127.0.0.1:{port}/ledger", id="refused"),
        pytest.param("postgres://localpay:{pw}@127.0.0.1:{port}/ledger", id="postgres-scheme"),
        pytest.param("postgresql://localpay:{pw}@127.0.0.1:notaport/ledger", id="bad-port"),
        pytest.param("postgresql://localpay:{pw}@127.0.0.1/ledger?bogus=1", id="bad-option"),
        pytest.param(
            "postgresql://localpay:{pw}%40x@127.0.0.1:{port}/ledger", id="escaped-password"
        ),
    ],
)
def test_an_unreachable_postgres_is_a_store_error_without_the_password(url: str) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = url.format(pw=SECRET, port=port)
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert_no_secret(caught.value, SECRET, f"{SECRET}@x", f"{SECRET}%40x")
    assert "127.0.0.1" in str(caught.value)


def test_wrong_password_or_database_is_a_store_error_without_the_password(
    fresh_pg_url: Callable[[], str],
) -> None:
    url = fresh_pg_url()
    password = url.split(":")[2].split("@")[0]
    wrong = url.replace(f":{password}@", f":{SECRET}@")
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        open_store(wrong)
    assert_no_secret(caught.value, SECRET)
    missing = url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError, match="does not exist") as caught:
        open_store(missing)
    assert_no_secret(caught.value, password)


def _terminate_other_sessions(url: str) -> int:
    """Kill every other session on the database and wait until they are gone."""
    with psycopg.connect(url, autocommit=True) as admin:
        pids = [
            row[0]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated sessions did not end"
            time.sleep(0.02)
    return len(pids)


def test_postgres_readers_reconnect_after_their_session_dies(
    fresh_pg_url: Callable[[], str],
) -> None:
    url = fresh_pg_url()
    store = open_store(url)
    try:
        store.append_block(CITY, synthetic_block(0, 0, 2, [("g", b"x")]))
        before = snapshot(store)
        assert _terminate_other_sessions(url) >= 1
        assert snapshot(store) == before  # a dropped reader is replaced once
        store.append_block(CITY, synthetic_block(1, 2, 2))  # so is the shared writer
        assert [b.height for b in store.blocks(CITY)] == [0, 1]
    finally:
        store.close()


def test_postgres_writes_stop_when_the_lease_session_is_lost(
    fresh_pg_url: Callable[[], str],
) -> None:
    url = fresh_pg_url()
    store, rival = open_store(url), open_store(url)
    try:
        with store.lease(CITY):
            store.append_block(CITY, synthetic_block(0, 0, 1))
            _terminate_other_sessions(url)  # the lease's session dies, the lock with it
            # Another sequencer may take over; this one is fenced off.
            with rival.lease(CITY), pytest.raises(StoreError, match="lease"):
                store.append_block(CITY, synthetic_block(1, 1, 1))
        assert [b.height for b in rival.blocks(CITY)] == [0]
        with store.lease(CITY):  # a new lease works again
            store.append_block(CITY, synthetic_block(1, 1, 1))
    finally:
        store.close()
        rival.close()


def test_postgres_writes_stop_when_the_lease_connection_is_closed(
    fresh_pg_url: Callable[[], str],
) -> None:
    """Fencing before any write: a lease whose connection is gone (closed here, not
    broken by the server) may have lost its lock; nothing goes through another one."""
    url = fresh_pg_url()
    store = open_store(url)
    try:
        with store.lease(CITY):
            store.append_block(CITY, synthetic_block(0, 0, 1))
            store._leases[CITY].conn.close()  # type: ignore[attr-defined]
            with pytest.raises(StoreError, match="lease"):
                store.append_block(CITY, synthetic_block(1, 1, 1))
        assert [b.height for b in store.blocks(CITY)] == [0]
    finally:
        store.close()


def test_the_throwaway_postgres_is_durable(pg_server: PgServer) -> None:
    """The fixture's server keeps fsync and synchronous_commit on, like production."""
    with pg_server.connect() as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses')"
            ).fetchall()
        )
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "listen_addresses": "127.0.0.1",
    }


def test_sqlite_url_without_a_path_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        open_store("sqlite:///")


def test_unknown_scheme_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        open_store("mysql://localhost/x")


def test_stored_block_frontier_is_a_list_of_hashes(store: Store) -> None:
    block = synthetic_block(0, 0, 1)
    block = msgspec.structs.replace(block, frontier=[bytes([n]) * 32 for n in range(4)])
    store.append_block(CITY, block)
    head = store.head(CITY)
    assert head is not None
    assert head.frontier == block.frontier
    assert (head.hash, head.signature, head.checkpoint) == (
        block.hash,
        block.signature,
        block.checkpoint,
    )
