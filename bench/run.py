"""`make bench`: every benchmark of the project in one run, on SQLite and PostgreSQL.

For each store, in the same run (so ratios compare like with like):
- `localpay bench --json`: signed payments through the sequencer, in process; then the
  witness's replay and `localpay verify` of that chain, grown to BENCH_VERIFY_TXS
  (200,000) transactions first;
- the conventional one-transaction-per-payment design on the same kind of store;
- `localpay bench --http --json`: the same kind of payments over HTTP on loopback, to a
  `localpay serve` child process, on a store of its own (a server starts every city
  of its store, and the in-process run's city has throwaway keys);
- memory (`--memory`): the RSS of a `localpay serve` holding the bench city, after the
  payments and after the growth, projected to 1,000,000 transactions; and, on SQLite,
  of one server holding 230 small cities (sim/memory.py);
- the 9 a.m. rush (bench/rush.py): 10,000 buyers through the waiting room of a sale
  opening whose discount budget runs out part way.
A 100,000-row disbursement batch (bench/batch.py): validate, approve, execute.
And CEL conditions (bench/conditions.py): evaluations per second, and payments per second
through the state machine with and without a condition on the program.
Card authorizations over TCP (bench/card.py): the ISO 8583 host beside a bare echo host.
QR payments over HTTP (bench/qr.py), static and dynamic, beside plain signed payments.
A day's settlement of 2,000 shops against mock-bank (bench/settlement.py).
Results go to stdout as a table and to bench/results.json.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))

import batch
import card
import conditions
import qr
import rush
import settlement
from conventional import PostgresBank, SQLiteBank, best_of, run_conventional
from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import ENV_FILE, ENV_KEY
from localpay.bootstrap import open_store
from localpay.sim.memory import SMALL_CITIES, rss_of_small_cities
from localpay.testing.postgres import throwaway_postgres

# The `localpay serve` children run no card host: bench/card.py measures its own.
os.environ.setdefault("LOCALPAY_CARD_PORT", "0")
PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "50000"))
HTTP_PAYMENTS = int(os.environ.get("BENCH_HTTP_PAYMENTS", "20000"))
HTTP_CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "64"))
VERIFY_TXS = int(os.environ.get("BENCH_VERIFY_TXS", "200000"))
CONVENTIONAL_PAYMENTS = int(os.environ.get("BENCH_CONVENTIONAL_PAYMENTS", "20000"))
SHOWN = (
    "payments_per_s",
    "p50_commit_ms",
    "p99_commit_ms",
    "ed25519_verify_per_s",
    "ratio_to_verify",
    "witness_replay_per_s",
    "witness_ratio",
    "verify_tx_per_s",
    "verify_chain_txs",
    "verify_projected_1m_s",
    "txs_per_block",
    "errors",
    "conventional_payments_per_s",
    "conventional_p99_ms",
    "conventional_clients",
    "ratio_to_conventional",
    "http_payments_per_s",
    "http_p50_ms",
    "http_p99_ms",
    "http_errors",
    "http_connections",
    "http_client_cpu_s",
    "http_server_cpu_s",
    "http_server_cpu_us_per_payment",
    "http_over_engine",
    "rss_city_points",
    "rss_city_1m_tx_mib",
    "rss_230_cities_mib",
    "rss_cities_build_s",
    *rush.SHOWN,
    *batch.SHOWN,
)


def localpay_bench(url: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "localpay.entrypoints.cli", "--db", url, "bench", "--json", *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def measure(
    url: str, conventional: Callable[[int], dict[str, Any]], clients: list[int], http_url: str
) -> dict[str, Any]:
    result = localpay_bench(
        url, "--payments", str(PAYMENTS), "--verify-txs", str(VERIFY_TXS), "--memory"
    )
    result.update(best_of(conventional, clients))
    result["ratio_to_conventional"] = round(
        result["payments_per_s"] / result["conventional_payments_per_s"], 2
    )
    http = localpay_bench(
        http_url,
        "--http",
        "--payments",
        str(HTTP_PAYMENTS),
        "--connections",
        str(HTTP_CONNECTIONS),
    )
    result.update({k: v for k, v in http.items() if k.startswith("http_")})
    result["http_errors"] = http["errors"]
    result["http_connections"] = http["connections"]
    result["http_client_cpu_s"] = http["client_cpu_s"]
    result["http_server_cpu_s"] = http["server_cpu_s"]
    # The HTTP rate against the engine's on the same store in this run: how much of the
    # engine's rate reaches a client over HTTP (the rest is the API's cost on one GIL).
    result["http_over_engine"] = round(result["http_payments_per_s"] / result["payments_per_s"], 3)
    return result


def small_cities_rss(url: str) -> dict[str, Any]:
    """One `localpay serve` holding SMALL_CITIES small cities: their RSS (sim/memory.py).
    SQLite only: on PostgreSQL each city's lease holds a connection of its own, more
    than a default server's 100."""
    # The cities' keys are throwaway, and so is the master key sealing them (the server
    # inherits it), unless one is given.
    if not (os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"
    with tempfile.TemporaryDirectory(prefix="localpay-cities-") as keys:
        store = open_store(url)
        try:
            return rss_of_small_cities(
                store, url, KeyStore(Path(keys)), Path(keys), now_ms, SMALL_CITIES
            )
        finally:
            store.close()


def new_database(url: str, name: str) -> str:
    """A new empty database on the server of `url`; its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def report(name: str, result: dict[str, Any]) -> None:
    print(f"\n== {name}")
    for key in SHOWN:
        print(f"  {key:>28}  {result.get(key, '-')}")


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory(prefix="localpay-bench-") as tmp:
        folder = Path(tmp)
        results["sqlite"] = measure(
            f"sqlite:///{folder}/ledger.db",
            lambda n: run_conventional(
                SQLiteBank(folder / f"conv{n}.db"), CONVENTIONAL_PAYMENTS, n
            ),
            [1, 4],
            f"sqlite:///{folder}/http.db",
        )
        results["sqlite"].update(small_cities_rss(f"sqlite:///{folder}/cities.db"))
        results["sqlite"].update(rush.measure(f"sqlite:///{folder}/rush.db"))  # bench/rush.py
        results["sqlite"].update(batch.measure(f"sqlite:///{folder}/batch.db"))  # bench/batch.py
        report("SQLite", results["sqlite"])
    with throwaway_postgres() as url:
        bank = PostgresBank(url)
        results["postgres"] = measure(
            url,
            lambda n: run_conventional(bank, CONVENTIONAL_PAYMENTS, n),
            [8, 16, 32],
            new_database(url, "http_bench"),
        )
        bank.drop()
        results["postgres"].update(rush.measure(new_database(url, "rush")))  # bench/rush.py
        results["postgres"].update(batch.measure(new_database(url, "batch")))  # bench/batch.py
        report("PostgreSQL", results["postgres"])
        results["qr"] = qr.measure(new_database(url, "qr"))  # bench/qr.py: SQLite, then this
        qr.report(results["qr"])
    results["conditions"] = conditions.measure()  # CEL: evaluations/s, cost per payment
    conditions.report(results["conditions"])
    results["card"] = card.measure()  # bench/card.py: ISO 8583 over TCP beside an echo host
    card.report(results["card"])
    results["settlement"] = settlement.run()  # bench/settlement.py: a day's payouts, mock-bank
    print(json.dumps(results["settlement"], indent=2))
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
