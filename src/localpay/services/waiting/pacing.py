"""Admission pacing: a token bucket in integers (thousandths of a person).

People are let in at `rate` per second from the opening on. The bucket starts empty
at the opening and keeps at most one second's worth unused, so in any stretch of t
seconds at most rate*t (+ one second's worth, after a lull) are admitted: the ledger sees a
steady flow of buyers, never the whole line at once. Pure: no clock, no store.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A bucket never holds more than this many seconds of admissions.
BURST_S = 1


@dataclass(frozen=True)
class Step:
    """How many to admit now, and the bucket after admitting them."""

    admit: int
    tokens_milli: int
    clock_ms: int


def step(
    opens_ms: int,
    rate: int,
    paused: bool,
    waiting: int,
    tokens_milli: int,
    clock_ms: int,
    now_ms: int,
) -> Step:
    """The bucket moved from clock_ms to now_ms: tokens accrue only while the sale is
    open and not paused (a pause earns nobody a later burst)."""
    if paused or now_ms <= opens_ms:
        return Step(0, 0 if now_ms <= opens_ms else tokens_milli, max(now_ms, clock_ms))
    since = max(clock_ms, opens_ms)
    elapsed = max(0, now_ms - since)
    # ms x people/s = thousandths of a person. Whoever waited through the whole stretch
    # is owed its tokens even if nobody asked meanwhile; only what nobody used is capped.
    tokens = tokens_milli + elapsed * rate
    admit = min(tokens // 1000, waiting)
    left = min(tokens - admit * 1000, rate * 1000 * BURST_S)
    return Step(admit, left, max(now_ms, clock_ms))
