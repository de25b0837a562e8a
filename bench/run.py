"""`make bench`: every benchmark of the project in one run, on SQLite and PostgreSQL.

For each store: `localpay bench --json` (our sequencer) and the conventional
one-transaction-per-payment design on the same kind of store, in the same run,
so the ratio between them is measured on one machine at one moment.
Results go to stdout as a table and to bench/results.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from conventional import PostgresBank, SQLiteBank, best_of, run_conventional
from pgserver import throwaway_postgres

PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "50000"))
CONVENTIONAL_PAYMENTS = int(os.environ.get("BENCH_CONVENTIONAL_PAYMENTS", "20000"))


def ours(url: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "localpay.cli",
            "--db",
            url,
            "bench",
            "--json",
            "--payments",
            str(PAYMENTS),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def report(name: str, result: dict[str, Any]) -> None:
    ratio = result["payments_per_s"] / result["conventional_payments_per_s"]
    result["ratio_to_conventional"] = round(ratio, 2)
    print(f"\n== {name}")
    for key in (
        "payments_per_s",
        "p50_commit_ms",
        "p99_commit_ms",
        "ed25519_verify_per_s",
        "ratio_to_verify",
        "txs_per_block",
        "errors",
        "conventional_payments_per_s",
        "conventional_p99_ms",
        "conventional_clients",
        "ratio_to_conventional",
    ):
        print(f"  {key:>28}  {result[key]}")


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory(prefix="localpay-bench-") as tmp:
        sqlite = ours(f"sqlite:///{tmp}/ledger.db")
        sqlite.update(
            best_of(
                lambda n: run_conventional(
                    SQLiteBank(Path(tmp) / f"conv{n}.db"), CONVENTIONAL_PAYMENTS, n
                ),
                [1, 4],
            )
        )
        report("SQLite", sqlite)
        results["sqlite"] = sqlite
    with throwaway_postgres() as url:
        postgres = ours(url)
        bank = PostgresBank(url)
        postgres.update(
            best_of(lambda n: run_conventional(bank, CONVENTIONAL_PAYMENTS, n), [8, 16, 32])
        )
        bank.drop()
        report("PostgreSQL", postgres)
        results["postgres"] = postgres
    Path(__file__).with_name("results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
