"""A 100,000-row disbursement batch (BENCH_BATCH_ROWS): validate, approve, execute.

A city with BENCH_BATCH_WALLETS (4,000) wallets and the demo's rewards program; a file
of 25 rows per wallet, 2,000 won each (50,000 won a wallet: under the program's
monthly cap and the ledger's 256 lots a wallet). Timed, in this process, through the
services the console and the CLI use (services/programs): the upload (streamed CSV,
every line judged, the Merkle root from the memoized tree, the lines written in one
transaction), the maker's submission and the checker's approval (maker-checker
through the approvals service, one `approve_batch` on the chain), and the execution
(one operator-signed `batch_credit` per row with its inclusion proof, in chunks of
1,000, each chunk's progress recorded). Checked after: every row paid exactly once.

Run alone: `uv run python bench/batch.py [sqlite:///path | postgresql://...]`.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.secrets import ENV_FILE, ENV_KEY, master_key_from_environment
from localpay.bootstrap import open_store
from localpay.services.cities.ledgers import Ledgers
from localpay.testing.programs import Services, officials, set_up_city, wallet_id

ROWS: Final = int(os.environ.get("BENCH_BATCH_ROWS", "100000"))
WALLETS: Final = int(os.environ.get("BENCH_BATCH_WALLETS", "4000"))
AMOUNT: Final = 2_000
CITY: Final = "batchcity"
SHOWN: Final = (
    "batch_rows",
    "batch_validate_s",
    "batch_approve_s",
    "batch_execute_s",
    "batch_total_s",
    "batch_rows_paid_per_s",
)


def lines(rows: int, wallets: int) -> Iterator[str]:
    yield "citizen,amount,program,reference\n"
    for n in range(rows):
        yield f"{wallet_id(n % wallets)},{AMOUNT},rewards,bench-{n}\n"


def measure(url: str, rows: int = ROWS, wallets: int = WALLETS) -> dict[str, Any]:
    if not (os.environ.get(ENV_FILE) or os.environ.get(ENV_KEY)):
        os.environ[ENV_KEY] = f"v1:{secrets.token_hex(32)}"
    master = master_key_from_environment()
    store = open_store(url)
    with tempfile.TemporaryDirectory(prefix="localpay-batch-keys-") as keys:
        ledgers = Ledgers(store, KeyStore(Path(keys), master), now_ms)
        try:
            set_up_city(ledgers, CITY, wallets, budget=rows * AMOUNT)
            services = Services(store, ledgers, master, now_ms)
            maker, checker = officials(services.identity, CITY)
            began = time.perf_counter()
            report = services.batches.upload(maker, "bench.csv", lines(rows, wallets), "bench")
            validated = time.perf_counter()
            progress = services.batches.submit(maker, report.batch.id)
            view = services.proposals.approve(checker, progress.proposal)
            approved = time.perf_counter()
            done = services.batches.run(CITY, report.batch.id)
            executed = time.perf_counter()
            state = ledgers.sequencer(CITY).state
            on_chain = state.batches[report.batch.id]
        finally:
            ledgers.close()
            store.close()
    assert report.batch.rows == rows, report.verdicts
    assert view.receipt is not None and view.receipt["code"] == "ok", view.receipt
    assert (done.paid, done.refused, on_chain.paid_rows) == (rows, 0, rows), done
    assert on_chain.paid_total == rows * AMOUNT
    return {
        "batch_rows": rows,
        "batch_validate_s": round(validated - began, 2),
        "batch_approve_s": round(approved - validated, 3),
        "batch_execute_s": round(executed - approved, 2),
        "batch_total_s": round(executed - began, 2),
        "batch_rows_paid_per_s": round(rows / (executed - approved)),
    }


def report(name: str, result: dict[str, Any]) -> None:
    print(f"{name}: " + ", ".join(f"{k} {result[k]}" for k in SHOWN if k in result))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        found = measure(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory(prefix="localpay-batch-") as folder:
            found = measure(f"sqlite:///{folder}/batch.db")
    report("batch", found)
    print(json.dumps(found))
