"""CEL conditions: how fast the ledger judges them, and what one costs a payment.

- `cel_evals_per_s`: `ledger.conditions.allows` on a typical condition (weekday lunch
  hours, an amount bound, the wallet's age), compiled once as the ledger does;
- `pay_per_s_plain` / `pay_per_s_condition`: payments through `ledger.machine.apply`
  (the state machine alone: no signatures, no store) on a program without and with that
  condition, interleaved best of ROUNDS in one run, and their ratio.

Run alone (`uv run python bench/conditions.py`) or from `make bench` (bench/run.py).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Final

from localpay.domain.codes import Code
from localpay.ledger import conditions, machine
from localpay.ledger.signatures import public_key_hex
from localpay.testing import machine_city
from localpay.testing.builders import policy

CONDITION: Final = (
    "weekday <= 5 && hour >= 11 && hour < 14 && amount <= 500000 && wallet_age_days >= 0"
)
EVALS = int(os.environ.get("BENCH_CEL_EVALS", "200000"))
PAYMENTS = int(os.environ.get("BENCH_CEL_PAYMENTS", "20000"))
WALLETS = 200  # machine_city makes at most ~240 keys
ROUNDS = 3


def evals_per_s() -> float:
    rules = policy("lunch", condition=CONDITION, engine=conditions.ENGINE)
    assert conditions.compile_error(rules) is None
    ctx = conditions.Context(
        amount=12_000,
        category="restaurant",
        area="gurae-dong",
        hour=12,
        weekday=3,
        wallet_age_days=40,
        lot_age_days=3,
        program="lunch",
    )
    assert conditions.allows(rules, ctx)
    start = time.perf_counter()
    for _ in range(EVALS):
        conditions.allows(rules, ctx)
    return EVALS / (time.perf_counter() - start)


def _city(condition: str) -> machine_city.City:
    """A city with one program (with or without the condition), a restaurant and funded
    wallets; the clock at a weekday noon, so the condition lets every payment through."""
    city = machine_city.City()
    city.now = machine_city.kst_ms(2026, 6, 3, 12)  # a Wednesday, 12:00 KST
    rules: dict[str, Any] = (
        {"condition": condition, "engine": conditions.ENGINE} if condition else {}
    )
    city.program("lunch", budget=WALLETS * 10_000_000, **rules)
    city.merchant("m-1", category="restaurant", area="gurae-dong")
    for n in range(WALLETS):
        wallet = city.wallet(f"w-{n:05d}")
        city.credit(wallet, "lunch", 10_000_000)
    return city


def _payments_per_s(city: machine_city.City) -> float:
    commands = [
        (city.pay_cmd(f"w-{n % WALLETS:05d}", "m-1", 1_000), f"w-{n % WALLETS:05d}")
        for n in range(PAYMENTS)
    ]
    signers = {w: frozenset({public_key_hex(city.keys[w])}) for _, w in commands}
    state, now = city.state, city.now
    start = time.perf_counter()
    for command, wallet in commands:
        result, _ = machine.apply(state, command, signers[wallet], now)
        if result.code != Code.OK:
            raise AssertionError(f"a bench payment was refused: {result.code}")
    return PAYMENTS / (time.perf_counter() - start)


def measure() -> dict[str, Any]:
    plain, judged = _city(""), _city(CONDITION)
    best_plain = best_judged = 0.0
    for _ in range(ROUNDS):  # interleaved: both see the same machine load
        best_plain = max(best_plain, _payments_per_s(plain))
        best_judged = max(best_judged, _payments_per_s(judged))
    return {
        "cel_condition": CONDITION,
        "cel_engine": conditions.ENGINE,
        "cel_evals_per_s": round(evals_per_s()),
        "pay_per_s_plain": round(best_plain),
        "pay_per_s_condition": round(best_judged),
        "condition_cost_ratio": round(best_judged / best_plain, 3),
        "condition_us_per_payment": round(1e6 / best_judged - 1e6 / best_plain, 1),
    }


def report(result: dict[str, Any]) -> None:
    print("\n== CEL conditions (ledger state machine, in process)")
    for key, value in result.items():
        print(f"  {key:>28}  {value}")


if __name__ == "__main__":
    found = measure()
    report(found)
    if os.environ.get("BENCH_JSON"):
        print(json.dumps(found))
