"""The ledger benchmark runs end to end on both stores (shape only: no timing asserted)."""

from __future__ import annotations

import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.ledger.ports import Store
from localpay.services.cities.verify import verify_city
from localpay.sim.bench import run_bench


@pytest.mark.slow
def test_the_benchmark_pays_and_a_witness_replays_the_same_chain(
    store: Store, keys: KeyStore
) -> None:
    result = run_bench(store, keys, now_ms, "test", payments=600, concurrency=32, verify_txs=12_000)
    assert result["errors"] == 0 and result["outcomes"] == {"ok": 600}, result
    assert result["payments_per_s"] > 0 and result["witness_replay_per_s"] > 0
    assert result["witness_ratio"] == round(
        result["witness_replay_per_s"] / result["payments_per_s"], 2
    )
    report = verify_city(store, result["city"])  # what the witness replayed is a valid chain
    assert report.ok and report.txs > 600, report.problems
    # verify was measured on the chain grown from ~9,000 (set-up, payments) to 12,000.
    assert report.txs == result["verify_chain_txs"] >= 12_000
    assert result["verify_tx_per_s"] > 0
    projected = 1_000_000 / result["verify_tx_per_s"]
    assert result["verify_projected_1m_s"] == pytest.approx(projected, abs=0.1)
