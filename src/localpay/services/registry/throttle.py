"""A bound on applications per sender: the form is public, so one address must not fill
the officials' queue. In memory (one process serves a city), like the API's rate limits.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

from localpay.domain.errors import Refused

#: Applications one address may send in WINDOW_MS (a shop owner sends one, or a few
#: after typing errors; a script sends hundreds).
PER_WINDOW: Final = 5
WINDOW_MS: Final = 10 * 60 * 1000
SOURCES_MAX: Final = 10_000


class TooManyApplications(Refused):
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many applications from here: try again later")
        self.retry_after_s = retry_after_s


class Throttle:
    def __init__(self, per_window: int = PER_WINDOW, window_ms: int = WINDOW_MS) -> None:
        self.per_window = per_window
        self.window_ms = window_ms
        self._seen: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def take(self, source: str, now_ms: int) -> None:
        """Count one application from `source`, or TooManyApplications."""
        if not source:
            return
        with self._lock:
            times = self._seen.pop(source, None) or deque()
            while times and times[0] <= now_ms - self.window_ms:
                times.popleft()
            self._seen[source] = times  # re-inserted: dict order is recency
            if len(self._seen) > SOURCES_MAX:
                del self._seen[next(iter(self._seen))]
            if len(times) >= self.per_window:
                raise TooManyApplications(max(1, (times[0] + self.window_ms - now_ms) // 1000))
            times.append(now_ms)
