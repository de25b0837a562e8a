"""A city on a real store (SQLite and PostgreSQL) with its real sequencer, whose clock the
test moves (localpay.testing.town)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.runner import SqlStore
from localpay.testing.town import Town, kst

#: The tests' world starts on a weekday morning in late November 2026 (Korean time).
START = kst(2026, 11, 20, 10)


@pytest.fixture
def town(store_url: str, store: SqlStore, keys: KeyStore) -> Iterator[Town]:
    made = Town(store, keys, START)
    made.url = store_url  # for the CLI
    yield made
    made.close()
