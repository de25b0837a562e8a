"""Programmable conditions: a program's CEL expression, judged at every payment.

CEL (Common Expression Language) is type-checked when a program is defined and cannot
loop without bound (no user functions, no recursion; the context holds no lists), so a
condition always ends, fast. The engine is cel-expr-python, which wraps the reference
cel-cpp. Every replay from genesis must reach the same verdicts, so the engine and its
version are recorded with the program (`Policy.engine`) and the ledger refuses a
program naming any engine but this one: a future engine comes in as a new program
version, never silently under an old one.

The context is documented in docs/programs.md, "Conditions": integers and strings only
(money is whole won; no doubles, so no rounding can differ between machines).
"""

from __future__ import annotations

import functools
import re
from importlib.metadata import version
from typing import Final

import msgspec
from cel_expr_python import cel

from localpay.domain.calendar import DAY_MS, KST_OFFSET_MS
from localpay.domain.policy import Policy

#: What `Policy.engine` must say for this ledger to judge the condition.
ENGINE: Final = f"cel-expr-python/{version('cel-expr-python')}"

#: The variables a condition may read, with their CEL types.
CONTEXT: Final = {
    "amount": cel.Type.INT,  # won, of the whole payment
    "category": cel.Type.STRING,  # the merchant's policy category
    "area": cel.Type.STRING,  # the merchant's 읍·면·동 label
    "hour": cel.Type.INT,  # 0-23, Korean time
    "weekday": cel.Type.INT,  # 1 Monday .. 7 Sunday, Korean time
    "wallet_age_days": cel.Type.INT,  # days since the wallet was opened
    "lot_age_days": cel.Type.INT,  # days since the money was credited or bought
    "program": cel.Type.STRING,
}

# A double literal or conversion: conditions work in whole numbers only.
_DOUBLE: Final = re.compile(r"\d\.\d|\d[eE][+-]?\d|\bdouble\s*\(")

_env: Final = cel.NewEnv(variables=CONTEXT)


class Context(msgspec.Struct, frozen=True):
    amount: int
    category: str
    area: str
    hour: int
    weekday: int
    wallet_age_days: int
    lot_age_days: int
    program: str


def context(
    *, amount: int, category: str, area: str, now_ms: int, opened_ms: int, lot_ms: int, program: str
) -> Context:
    local = now_ms + KST_OFFSET_MS
    day = local // DAY_MS
    return Context(
        amount=amount,
        category=category,
        area=area,
        hour=(local % DAY_MS) // 3_600_000,
        weekday=(day + 3) % 7 + 1,  # 1970-01-01 was a Thursday
        wallet_age_days=max(now_ms - opened_ms, 0) // DAY_MS,
        lot_age_days=max(now_ms - lot_ms, 0) // DAY_MS,
        program=program,
    )


def compile_error(policy: Policy) -> str | None:
    """The checker's message if the policy's condition cannot be used, else None."""
    if not policy.condition:
        return None
    if policy.engine != ENGINE:
        return f"the condition's engine must be {ENGINE!r}, not {policy.engine!r}"
    if _DOUBLE.search(policy.condition):
        return "conditions use whole numbers only (no decimals or double())"
    try:
        expression = _compiled(policy.condition)
    except RuntimeError as exc:
        return str(exc).removeprefix("INVALID_ARGUMENT: ").strip()
    if expression.return_type() != cel.Type.BOOL:
        return f"a condition must give true or false, not {expression.return_type().name()}"
    return None


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> cel.Expression:
    # Keyed by the text: every program version with the same condition shares one
    # compilation, so a condition is compiled once, not at every payment.
    return _env.compile(source)


def allows(policy: Policy, ctx: Context) -> bool:
    """Does the condition let this payment draw on the policy's money? An evaluation
    error (say, a division by zero) is a no: money is never spent on an unclear rule."""
    if not policy.condition:
        return True
    value = _compiled(policy.condition).eval(data=msgspec.structs.asdict(ctx)).value()
    return value is True
