"""Shared fixtures: every store test runs on SQLite and on a throwaway PostgreSQL.

The PostgreSQL server (fixture ``pg_server``, one per pytest process, so one per
xdist worker; localpay.testing.postgres) is started on first use and stopped at the
end of the session. ``fresh_pg_url()`` makes a new empty database on it and returns
its URL; the databases a test made are dropped after it. ``store_url`` gives each test
a fresh empty store, once on SQLite and once on PostgreSQL; ``store`` opens it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import ENV_FILE, ENV_KEY, master_key_from_environment
from localpay.adapters.sql.runner import SqlStore
from localpay.bootstrap import open_store
from localpay.testing.builders import DemoChain
from localpay.testing.postgres import PgServer, running_server

# Secrets at rest are sealed under a master key: the tests' own, in the environment, so
# that every key store and identity service, and the CLI run in subprocesses, find it.
os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"
os.environ.pop(ENV_FILE, None)
# `localpay serve` children run no card host unless a test asks (--card-port): parallel
# workers would all reach for port 8583.
os.environ.setdefault("LOCALPAY_CARD_PORT", "0")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """This pytest process's own PostgreSQL server, started on first use."""
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with running_server(f"localpay-pg-{worker_id}-") as server:
        yield server


@pytest.fixture
def fresh_pg_url(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """A factory of new empty databases on the test server; each call gives a URL."""
    made: list[str] = []

    def make() -> str:
        name = pg_server.create_database()
        made.append(name)
        return pg_server.url(name)

    yield make
    for name in made:
        pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store's URL: once a SQLite file, once a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    """Key files for the test, in its own directory (never ./data), sealed under the
    tests' master key."""
    return KeyStore(tmp_path / "keys", master_key_from_environment())


DEMO_CITY = "gimpo"


@pytest.fixture
def demo_chain(store_url: str, keys: KeyStore) -> Iterator[DemoChain]:
    from localpay.services.cities.ledgers import Ledgers  # noqa: PLC0415
    from localpay.services.cities.verify import verify_city  # noqa: PLC0415
    from localpay.sim.demo import SimClock, run_demo  # noqa: PLC0415

    store = open_store(store_url)
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)  # simulated days
    run_demo(ledgers, clock, DEMO_CITY, "김포시", citizens=30, merchants=4, days=3, seed=5)
    ledgers.close()
    pays = store.sql(
        "SELECT seq, height FROM txs WHERE city = ? AND kind = 'pay' ORDER BY seq", (DEMO_CITY,)
    )
    seq, height = pays[len(pays) // 2]
    assert verify_city(store, DEMO_CITY).ok
    yield DemoChain(store_url, store, seq, height)
    store.close()
