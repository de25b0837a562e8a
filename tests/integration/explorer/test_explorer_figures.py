"""The explorer's figures from a real chain on both stores: caught up from the store they
agree with the ledger's own records (Totals, each payment's draws), and kept up by the
block observer they equal a fresh catch-up of the same chain."""

from __future__ import annotations

import msgspec

from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.calendar import iso_date
from localpay.ledger.results import Result
from localpay.ledger.signatures import sign_command
from localpay.ledger.state import Merchant, Payment, Totals, Wallet
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.explorer.aggregate import SMALL_CELL
from localpay.services.explorer.service import Explorer
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
        if tx.kind != "pay" or not msgspec.json.decode(tx.result, type=Result).ok:
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
