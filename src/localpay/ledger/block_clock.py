"""The time a block is sealed at, and when the clock is not to be trusted.

Block time is the clock, never before the previous block (`max(clock, head)`). So that
one bad clock reading cannot pin every later block, a block is refused (ClockSkew,
retryable, nothing sealed) when the clock disagrees with the elapsed time by more than
the skew: the wall clock must have moved as the boot clock (monotonic, counting suspend)
did since the last block this sequencer sealed, or since its start. A clock far behind
the chain head is refused as well (the head was sealed with a bad clock, or this clock
is wrong: an operator must look). A step of the wall clock that was right (NTP fixing a
wrong clock) needs a restart. Simulated clocks (the demo, tests) opt out with
`max_skew_ms=None`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from localpay.ledger.chain import ChainHead
from localpay.ledger.receipt import ClockSkew

_BOOT_CLOCK: Final = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def boot_clock_ms() -> int:
    """Time elapsed since boot, suspend included (a laptop's sleep is not a jump);
    slewed by NTP as the wall clock is, but never stepped."""
    return time.clock_gettime_ns(_BOOT_CLOCK) // 1_000_000


class BlockClock:
    def __init__(self, clock: Callable[[], int], max_skew_ms: int | None) -> None:
        self.clock = clock
        self.max_skew_ms = max_skew_ms
        # (wall clock, boot clock) at the last block sealed, or at start.
        self._anchor = (0, 0)
        self._trusted = True
        #: Blocks refused for a clock that jumped or lags the head (ClockSkew).
        self.refusals = 0

    def start(self) -> None:
        self._anchor = (self.clock(), boot_clock_ms())

    def block_time(self, head: ChainHead) -> int:
        """The time of the next block after `head`; ClockSkew if the clock is off."""
        now, elapsed = self.clock(), boot_clock_ms()
        skew = self.max_skew_ms
        if skew is not None:
            wall, boot = self._anchor
            jump = now - (wall + elapsed - boot)
            if abs(jump) > skew:
                raise ClockSkew(f"the clock jumped {jump} ms against the elapsed time")
            if now < head.time_ms - skew:
                behind = head.time_ms - now
                raise ClockSkew(f"the clock is {behind} ms behind block {head.height - 1}")
            self._anchor = (now, elapsed)
            self._trusted = True
        return max(now, head.time_ms)

    def distrust(self) -> bool:
        """Count a refused block; True on the first of an episode (to say it once)."""
        self.refusals += 1
        first, self._trusted = self._trusted, False
        return first
