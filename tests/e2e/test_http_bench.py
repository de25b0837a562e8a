"""The HTTP benchmark runs end to end on a real server (shape only: no timing asserted)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from localpay.bootstrap import open_store
from localpay.services.http_bench import run_http_bench


def test_the_http_benchmark_sends_payments_to_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    store = open_store(url)
    with tempfile.TemporaryDirectory() as keys:
        result = run_http_bench(url, store, Path(keys), "sqlite", payments=300, connections=8)
    store.close()
    assert result["errors"] == 0
    assert result["payments"] == 300
    assert result["http_payments_per_s"] > 0
    assert 0 < result["http_p50_ms"] <= result["http_p99_ms"]
