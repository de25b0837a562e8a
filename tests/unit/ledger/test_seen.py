"""SeenIds: never "new" for an id it was given, rarely "maybe" for one it was not, and a
few bytes per id however many it holds (it grows by adding larger filters)."""

from __future__ import annotations

import os

from localpay.ledger.seen import ERROR_RATE, FIRST_CAPACITY, SeenIds


def _ids(count: int) -> list[str]:
    return [os.urandom(16).hex() for _ in range(count)]


def test_no_id_given_is_ever_answered_new_across_growth() -> None:
    ids = _ids(10 * FIRST_CAPACITY)  # several filters
    seen = SeenIds()
    for tx_id in ids:
        seen.add(tx_id)
    assert len(seen._filters) > 1
    assert all(tx_id in seen for tx_id in ids)
    assert len(seen) == len(ids)


def test_false_alarms_stay_below_the_error_rate_and_memory_is_a_few_bytes_per_id() -> None:
    held = 100_000
    seen = SeenIds.of(_ids(held), expected=held)
    fresh = _ids(20_000)
    alarms = sum(tx_id in seen for tx_id in fresh)
    assert alarms <= 3 * ERROR_RATE * len(fresh)  # expected ~0.5 x the bound
    assert seen.nbytes < 3 * held  # a set of the same ids: ~100 bytes each


def test_the_filter_is_keyed_per_instance() -> None:
    """An outsider cannot precompute ids that collide: each filter draws its own key."""
    a, b = SeenIds(), SeenIds()
    assert a._pair("0" * 32) != b._pair("0" * 32)
