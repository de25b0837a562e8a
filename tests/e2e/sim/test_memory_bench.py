"""The memory benchmark measures a real `localpay serve` holding its store's cities (shape
only: no figure asserted beyond sanity), and the 1M projection is the line through the
two measured points."""

from __future__ import annotations

from pathlib import Path

import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.sim.bench import _rss_figures
from localpay.sim.memory import rss_of_small_cities


@pytest.mark.slow
def test_one_server_holding_small_cities_is_measured(tmp_path: Path) -> None:
    # On SQLite only, as make bench measures it: on PostgreSQL each city's lease holds a
    # connection of its own, more than a default server allows for 230 cities.
    store_url = f"sqlite:///{tmp_path}/cities.db"
    store = open_store(store_url)
    keys = tmp_path / "server-keys"
    try:
        result = rss_of_small_cities(store, store_url, KeyStore(keys), keys, now_ms, 3)
        assert sorted(store.cities()) == ["small-0000", "small-0001", "small-0002"]
    finally:
        store.close()
    assert result["rss_cities"] == 3
    assert 20 < result["rss_3_cities_mib"] < 2048, result


def test_the_projection_to_a_million_is_the_line_through_the_last_two_points() -> None:
    figures = _rss_figures([(100_000, 200.0), (200_000, 250.0)])
    assert figures["rss_city_1m_tx_mib"] == 650.0
    assert figures["rss_city_1m_tx_projected"] is True
    assert figures["rss_city_points"] == [[100_000, 200.0], [200_000, 250.0]]
    assert _rss_figures([]) == {}
