"""The sequencers' supervisor: notices a failed city, says why, restarts it with backoff.

A sequencer that fails (a store error, a lost lease) stops for good and never writes past
the failed block. Without supervision it would only start again on the city's next
command, and a load balancer that took the node out on `/readyz` sends none. One thread
polls every city this process runs; a failure is logged with its reason and counted, the
city is reported down (readiness names it) and restarted after a delay that doubles while
restarts keep failing (a store still down, LeaseHeld while the old sequencer's write
hangs), back to the shortest after a healthy minute. A clock-skew refusal is no failure:
the sequencer keeps running and refuses blocks until the clock agrees.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import structlog

from localpay.domain.limits import FAILURE_REASON_CHARS_MAX, SUPERVISOR_BACKOFF_S_MAX
from localpay.ledger.sequencer import Sequencer
from localpay.services.cities.ledgers import Ledgers

POLL_S: Final = 0.5
BACKOFF_MIN_S: Final = 0.5
#: Running this long after a restart resets the backoff to BACKOFF_MIN_S.
HEALTHY_RESET_S: Final = 60.0

log = structlog.get_logger("localpay.supervision")


@dataclass(frozen=True)
class Backoff:
    poll_s: float = POLL_S
    min_s: float = BACKOFF_MIN_S
    max_s: float = SUPERVISOR_BACKOFF_S_MAX
    healthy_reset_s: float = HEALTHY_RESET_S


@dataclass
class _Watch:
    """What the supervisor knows of one city."""

    delay: float
    failed: Sequencer | None = None  # the failed sequencer already counted
    reason: str = "not started"  # why it went down
    next_try: float = 0.0
    healthy_since: float = 0.0


def reason_of(exc: BaseException | None) -> str:
    if exc is None:
        return "stopped"
    return f"{type(exc).__name__}: {exc}"[:FAILURE_REASON_CHARS_MAX]


class Supervisor:
    def __init__(
        self,
        ledgers: Ledgers,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledgers = ledgers
        self.backoff = backoff or Backoff()
        self.clock = clock
        #: Failures of running sequencers, per city, since this process started.
        self.failures: collections.Counter[str] = collections.Counter()
        #: Restarts that brought a failed city back, per city.
        self.restarts: collections.Counter[str] = collections.Counter()
        self._down: dict[str, str] = {}  # city -> why, while it is down
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Supervisor:
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def down(self) -> dict[str, str]:
        """Cities whose sequencer is down, with the reason."""
        with self._lock:
            return dict(self._down)

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(failures, restarts) per city, a consistent copy for a scrape."""
        with self._lock:
            return dict(self.failures), dict(self.restarts)

    def _loop(self) -> None:
        while not self._stop.wait(self.backoff.poll_s):
            for city in self.ledgers.cities():
                if self._stop.is_set():
                    return
                try:
                    self.check(city)
                except Exception:  # a bug here must not end supervision of every city
                    log.exception("supervisor_error", city=city)

    def check(self, city: str) -> None:
        """One look at a city: note a failure, or restart it when its delay is over."""
        now = self.clock()
        watch = self._watches.setdefault(city, _Watch(self.backoff.min_s, healthy_since=now))
        seq = self.ledgers.running_sequencer(city)
        if seq is not None and seq.running:
            self._healthy(city, watch, now)
        elif seq is not None and seq is not watch.failed:
            self._failed(city, watch, seq, now)
        elif now >= watch.next_try:
            self._restart(city, watch, now)

    def _healthy(self, city: str, watch: _Watch, now: float) -> None:
        with self._lock:
            was_down = self._down.pop(city, None)
        if was_down is not None:  # a command restarted it before we did
            watch.healthy_since = now
        elif now - watch.healthy_since >= self.backoff.healthy_reset_s:
            watch.delay = self.backoff.min_s

    def _failed(self, city: str, watch: _Watch, seq: Sequencer, now: float) -> None:
        watch.failed, watch.reason = seq, reason_of(seq.failure)
        with self._lock:
            self.failures[city] += 1
            self._down[city] = watch.reason
        log.error("sequencer_down", city=city, reason=watch.reason, retry_in_s=watch.delay)
        self._wait(watch, now)

    def _restart(self, city: str, watch: _Watch, now: float) -> None:
        try:
            self.ledgers.sequencer(city)
        except Exception as exc:  # still down: the store, the lease, a missing key
            why = reason_of(exc)
            with self._lock:
                self._down[city] = f"{watch.reason} (restart failed: {why})"
            log.warning("sequencer_restart_failed", city=city, reason=why, retry_in_s=watch.delay)
            self._wait(watch, self.clock())
            return
        with self._lock:
            self._down.pop(city, None)
            self.restarts[city] += 1
        watch.healthy_since = self.clock()
        log.warning("sequencer_restarted", city=city)  # the end of an incident: told as one

    def _wait(self, watch: _Watch, now: float) -> None:
        watch.next_try = now + watch.delay
        watch.delay = min(2 * watch.delay, self.backoff.max_s)
