"""SeenIds: never "new" for an id it was given, rarely "maybe" for one it was not, and a
few bytes per id however many it holds (it grows by adding larger filters)."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_the_bits_follow_pythons_keyed_string_hash() -> None:
    """An outsider cannot aim ids at the bits: they come from `hash()`, SipHash under a
    key drawn at each interpreter start, so another process sets other bits."""
    probe = (
        "from localpay.ledger.seen import SeenIds; s = SeenIds(); s.add('0' * 32);"
        " print(bytes(s._filters[0].bits).hex())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 2
