"""The explorer's figures from a real chain on both stores: caught up from the store they
agree with the ledger's own records (Totals, each payment's draws), and kept up by the
block observer they equal a fresh catch-up of the same chain."""

from __future__ import annotations

import msgspec
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.calendar import iso_date
from localpay.ledger.results import Result
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import Merchant, Payment, Totals, Wallet
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.explorer import service as explorer_service
from localpay.services.explorer.aggregate import SMALL_CELL
from localpay.services.explorer.service import UNKNOWN_PROGRAM, Explorer
from localpay.sim.demo import DEMO_SECRET, SimClock, derived_key
from localpay.testing.builders import DemoChain

CITY = "gimpo"


def _by_day_and_program(chain: DemoChain) -> dict[tuple[str, str], int]:
    """Won paid per (day, program), from each payment's own record in the state."""
    times = {}
    for block in chain.store.blocks(CITY):
        header = msgspec.json.decode(block.header_bytes)
        times[header["height"]] = header["time_ms"]
    out: dict[tuple[str, str], int] = {}
    for tx in chain.store.txs(CITY):
        # A card purchase (the demo's card wallets: a hold captured at once) is one too.
        if tx.kind not in ("pay", "hold") or not msgspec.json.decode(tx.result, type=Result).ok:
            continue
        raw = chain.store.state_value(CITY, f"x:{tx.id}")
        assert raw is not None  # a 3-day chain retires no payment record
        for draw in msgspec.json.decode(raw, type=Payment).draws:
            key = (iso_date(times[tx.height]), draw.program)
            out[key] = out.get(key, 0) + draw.amount
    return out


def test_caught_up_figures_agree_with_the_ledger(demo_chain: DemoChain) -> None:
    explorer = Explorer(demo_chain.store).start([CITY])
    raw = demo_chain.store.state_value(CITY, "c")
    assert raw is not None
    totals = msgspec.json.decode(raw, type=Totals)
    supply = explorer.supply(CITY)
    assert supply[-1].outstanding == totals.minted - totals.burned
    assert sum(p.minted for p in supply) == totals.minted
    assert sum(p.burned for p in supply) == totals.burned
    table = explorer.payments(CITY, "program", threshold=1)  # nothing hidden: compare all
    shown = {
        (row.date, program): cell.amount
        for row in table.rows
        for program, cell in row.cells.items()
        if cell.count
    }
    paid = _by_day_and_program(demo_chain)
    assert paid, "the demo chain has payments"
    assert shown == paid
    hidden = explorer.payments(CITY, "area")
    for row in hidden.rows:
        for cell in row.cells.values():
            assert cell.suppressed or cell.count == 0 or (cell.count or 0) >= SMALL_CELL


def _payments(chain: DemoChain, keys: KeyStore, n: int) -> list[bytes]:
    """Signed payments from the demo's own wallets (with money, not card wallets)."""
    secret = bytes(keys.load(CITY, DEMO_SECRET))
    shops = [
        k[2:]
        for k, v in chain.store.state(CITY)
        if k.startswith("m:") and msgspec.json.decode(v, type=Merchant).status == "active"
    ]
    out: list[bytes] = []
    for key, value in chain.store.state(CITY):
        if not key.startswith("w:"):
            continue
        wallet = msgspec.json.decode(value, type=Wallet)
        if wallet.custodial or wallet.balance() < 1_000:
            continue
        pay = c.Pay(
            id=new_id(),
            city=CITY,
            wallet=wallet.id,
            merchant=shops[len(out) % len(shops)],
            amount=1_000,
            evidence="",
        )
        out.append(sign_command(pay, [derived_key(secret, wallet.id)]))
        if len(out) == n:
            break
    return out


def test_the_observer_keeps_the_figures_a_catch_up_would_make(
    demo_chain: DemoChain, keys: KeyStore
) -> None:
    live = Explorer(demo_chain.store).start([CITY])
    before = live.payments(CITY, "area", threshold=1)
    clock = SimClock(1_780_000_000_000 + 5 * 86_400_000)  # a new day after the demo's
    ledgers = Ledgers(demo_chain.store, keys, clock, max_clock_skew_ms=None)
    ledgers.observers.append(live)
    try:
        receipts = ledgers.execute_many(CITY, _payments(demo_chain, keys, 8), timeout=60)
    finally:
        ledgers.close()
    assert any(r.ok for r in receipts)  # some pass the programs' rules, some are refused
    after = live.payments(CITY, "area", threshold=1)
    assert after != before
    fresh = Explorer(demo_chain.store).start([CITY])
    assert fresh.payments(CITY, "area", threshold=1) == after
    assert fresh.payments(CITY, "program", threshold=1) == live.payments(
        CITY, "program", threshold=1
    )
    assert fresh.supply(CITY) == live.supply(CITY)


def test_blocks_past_the_pending_bound_are_read_from_the_store(
    demo_chain: DemoChain, keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit path only hands blocks over, at most PENDING_BLOCKS_MAX per city
    between reads; the ones past it are read from the store at the next read."""
    monkeypatch.setattr(explorer_service, "PENDING_BLOCKS_MAX", 1)
    live = Explorer(demo_chain.store).start([CITY])
    clock = SimClock(1_780_000_000_000 + 5 * 86_400_000)
    ledgers = Ledgers(demo_chain.store, keys, clock, max_clock_skew_ms=None)
    ledgers.observers.append(live)
    try:
        for payment in _payments(demo_chain, keys, 6):  # one block each
            ledgers.execute(CITY, payment)
    finally:
        ledgers.close()
    assert len(live._pending[CITY]) == 1 and CITY in live._behind  # the rest were not kept
    fresh = Explorer(demo_chain.store).start([CITY])
    assert live.payments(CITY, "area", threshold=1) == fresh.payments(CITY, "area", threshold=1)
    assert live.supply(CITY) == fresh.supply(CITY)


def test_a_gift_lots_program_is_traced_live_and_at_catch_up(
    demo_chain: DemoChain, keys: KeyStore
) -> None:
    """A gift lands in a lot `<transfer id>.0` that no credit made; a payment from it is
    counted under the program of the money given, by the observer and by a catch-up."""
    secret = bytes(keys.load(CITY, DEMO_SECRET))
    giver = next(
        w
        for k, v in demo_chain.store.state(CITY)
        if k.startswith("w:")
        and not (w := msgspec.json.decode(v, type=Wallet)).custodial
        and sum(lot.amount for lot in w.lots if lot.program == "general") >= 5_000
    )
    fresh_key = derived_key(secret, "w-9999999")
    opening = c.OpenWallet(
        id=new_id(),
        city=CITY,
        wallet="w-9999999",
        keys=[public_key_hex(fresh_key)],
        custodial=False,
    )
    gift = c.Transfer(
        id=new_id(), city=CITY, wallet=giver.id, to="w-9999999", amount=5_000, evidence=""
    )
    live = Explorer(demo_chain.store).start([CITY])
    clock = SimClock(1_780_000_000_000 + 6 * 86_400_000)
    ledgers = Ledgers(demo_chain.store, keys, clock, max_clock_skew_ms=None)
    ledgers.observers.append(live)
    try:
        assert ledgers.execute(CITY, sign_command(opening, [fresh_key])).ok
        assert ledgers.execute(CITY, sign_command(gift, [derived_key(secret, giver.id)])).ok
        paid = None
        for shop in _active_shops(demo_chain):
            pay = c.Pay(
                id=new_id(),
                city=CITY,
                wallet="w-9999999",
                merchant=shop,
                amount=2_000,
                evidence="",
            )
            if ledgers.execute(CITY, sign_command(pay, [fresh_key])).ok:
                paid = pay
                break
    finally:
        ledgers.close()
    assert paid is not None, "no shop takes general money"
    tx = demo_chain.store.find_tx(CITY, paid.id)
    assert tx is not None
    assert [lot for lot, _ in tx.decoded_result().lots or []] == [f"{gift.id}.0"]
    day = iso_date(clock())
    for explorer in (live, Explorer(demo_chain.store).start([CITY])):
        row = explorer.payments(CITY, "program", threshold=1).rows[0]
        assert row.date == day
        assert row.cells["general"].count == 1 and row.cells["general"].amount == 2_000
        assert UNKNOWN_PROGRAM not in row.cells


def _active_shops(chain: DemoChain) -> list[str]:
    return [
        k[2:]
        for k, v in chain.store.state(CITY)
        if k.startswith("m:") and msgspec.json.decode(v, type=Merchant).status == "active"
    ]


def test_blocks_the_observer_missed_are_read_from_the_store(
    demo_chain: DemoChain, keys: KeyStore
) -> None:
    live = Explorer(demo_chain.store).start([CITY])
    payments = _payments(demo_chain, keys, 6)
    assert len(payments) >= 2
    clock = SimClock(1_780_000_000_000 + 7 * 86_400_000)
    unobserved = Ledgers(demo_chain.store, keys, clock, max_clock_skew_ms=None)
    try:  # blocks written while the explorer was not listening (another process, say)
        unobserved.execute_many(CITY, payments[:-1], timeout=60)
    finally:
        unobserved.close()
    observed = Ledgers(demo_chain.store, keys, clock, max_clock_skew_ms=None)
    observed.observers.append(live)
    try:
        observed.execute_many(CITY, payments[-1:], timeout=60)
    finally:
        observed.close()
    fresh = Explorer(demo_chain.store).start([CITY])
    assert live.payments(CITY, "area", threshold=1) == fresh.payments(CITY, "area", threshold=1)
    assert live.supply(CITY) == fresh.supply(CITY)
    today = fresh.payments(CITY, "area", threshold=1).rows[0]
    assert today.date == iso_date(clock()) and (today.total.count or 0) >= 1
