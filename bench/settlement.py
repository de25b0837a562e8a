"""The daily settlement of a city's shops, end to end against mock-bank (its own process).

BENCH_SETTLE_SHOPS (2,000) shops, each paid by a citizen, then, on each store (SQLite,
then a throwaway PostgreSQL):
- `daily`: the daily batch's operator-signed payouts on the chain (one per shop), the
  pain.001.001.09 written with lxml and checked against the official XSD, recorded
  sealed, and taken by mock-bank (its own validation);
- `bank_and_reconcile`: mock-bank's clock moved to the booking day, its pain.002 and
  camt.053 collected, the camt.053 read safely and checked against its XSD, every entry
  matched to its payout, and settle_payout signed and applied for each.
Each phase's payouts per second; `exceptions` and `shortfall` must be 0, and every
payout paid. Run alone: `uv run python bench/settlement.py`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from localpay.adapters.bank.mockbank import HOUSE_CODE, MockBank, ensure_trust_account
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import master_key_from_environment
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.bootstrap import open_store
from localpay.ledger.state import PAYOUT_PAID
from localpay.services.settlement.ports import Party
from localpay.services.settlement.service import SettlementService
from localpay.testing.mockbank import mock_bank
from localpay.testing.postgres import throwaway_postgres
from localpay.testing.town import CITY, Town, kst

SHOPS = int(os.environ.get("BENCH_SETTLE_SHOPS", "2000"))
TRUST = Party("김포시 지역화폐 신탁", HOUSE_CODE, "1005001234567")
BUDGET = 10_000_000_000


def _town(url: str, folder: Path) -> Town:
    keys = KeyStore(folder / "keys", master_key_from_environment())
    town = Town(open_store(url), keys, kst(2026, 6, 8, 10))
    town.program("general", BUDGET)
    town.wallet("alice")
    town.credit("general", "alice", SHOPS * 10_000)
    for n in range(SHOPS):
        shop = f"m-{n:05d}"
        town.merchant(shop)
        keys.put(CITY, f"merchant-{shop}", town.people[shop])
        assert town.pay("alice", shop, 1_000 + n).ok
    return town


def run_one(url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as spare, mock_bank() as bank:
        folder = Path(spare)
        town = _town(url, folder)
        repo = SqlSettlement(town.store, master_key_from_environment())
        service = SettlementService(
            town.ledgers, repo, lambda city: MockBank(bank.client, city), lambda city: TRUST
        )
        for n in range(SHOPS):
            shop = f"m-{n:05d}"
            party = Party(f"가게{n}", HOUSE_CODE, f"3333{n:09d}")
            bank.client.create_account(f"SHOP-{shop}", party)
            service.register_account(CITY, shop, party, town.clock.now)
        ensure_trust_account(bank.client, CITY, TRUST.account, TRUST.bank, TRUST.name, BUDGET)
        town.clock.now = kst(2026, 6, 8, 16)
        figures: dict[str, Any] = {"shops": SHOPS}
        begin = time.perf_counter()
        batches = service.daily(CITY, town.clock.now)
        figures["daily_s"] = round(time.perf_counter() - begin, 2)
        assert sum(len(b.lines) for b in batches) == SHOPS
        figures["files"] = len(batches)
        figures["file_bytes"] = sum(len(service.batch_file(CITY, b.id)) for b in batches)
        begin = time.perf_counter()
        bank.client.advance(days=3)
        polled = service.poll(CITY, town.clock.now)
        figures["bank_and_reconcile_s"] = round(time.perf_counter() - begin, 2)
        paid = sum(1 for q in town.ledgers.sequencer(CITY).state.payouts.values()
                   if q.status == PAYOUT_PAID)  # fmt: skip
        figures["paid"] = paid
        figures["statements"] = polled.statements
        figures["exceptions"] = len(service.exceptions(CITY))
        figures["shortfall"] = service.prove(CITY, town.clock.now).shortfall
        figures["payouts_per_s_daily"] = round(SHOPS / figures["daily_s"])
        figures["payouts_per_s_reconcile"] = round(SHOPS / figures["bank_and_reconcile_s"])
        town.close()
        town.store.close()
        return figures


def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run_one(f"sqlite:///{folder}/settle.db")
    with throwaway_postgres() as url:
        results["postgres"] = run_one(url)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
