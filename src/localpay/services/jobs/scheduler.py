"""Runs the jobs inside `localpay serve`: expiry and the notices at the start of each
Korean day, cashback once a month is over, lapsed orders and notice retries every minute.

The clock is injected (tests move time and call `tick`). The run log (job_runs) says
which day or month each job has done, so a restart, or a second tick in the same minute,
does not run it again; after downtime, the first tick catches up (the day's expiry, the
month's cashback). Should the log miss a run (a crash between the commands and the
record), the re-run submits the same derived command ids and the ledger answers with the
first receipts: nothing is done twice either way.

One thread, waking at each minute boundary of the clock (so midnight's expiry runs in
the first second of the day). A failed job is logged and tried again at the next tick."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

import structlog

from localpay.services.jobs.ports import RunLog
from localpay.services.jobs.service import MINUTELY, Jobs, Run, period_of

#: The jobs done once per period, in the order they run in a tick: expiry before the
#: notices (money expired is not announced), cashback after both.
PERIODIC: Final = ("expiry", "notices", "cashback")
MINUTE_MS: Final = 60_000

log = structlog.get_logger("localpay.jobs")


class Scheduler:
    def __init__(
        self,
        jobs: Jobs,
        runs: RunLog,
        cities: Callable[[], list[str]],
        clock: Callable[[], int],
    ) -> None:
        self.jobs = jobs
        self.runs = runs
        self.cities = cities
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Jobs that failed (raised) since start, for the operator to look into.
        self.failures = 0

    def tick(self) -> list[Run]:
        """Run whatever is due now, for every city; what ran."""
        now = self.clock()
        ran = []
        for city in self.cities():
            ran += self._city(city, now)
        try:
            self.jobs.deliver(now)  # retries of notices written in earlier ticks
        except Exception:
            self.failures += 1
            log.exception("job_failed", job="deliver")
        return ran

    def _city(self, city: str, now: int) -> list[Run]:
        ran = []
        for job in (*MINUTELY, *PERIODIC):
            period = period_of(job, now)
            if job not in MINUTELY and self.runs.done(city, job, period):
                continue
            try:
                done = self.jobs.run(job, city, now)
            except Exception:
                self.failures += 1
                log.exception("job_failed", job=job, city=city, period=period)
                continue
            if job not in MINUTELY:
                self.runs.record(city, job, done.period, now, done.line)
            ran.append(done)
        return ran

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="localpay-jobs", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a store outage: logged, tried again next minute
                self.failures += 1
                log.exception("jobs_tick_failed")
            now = self.clock()
            self._stop.wait((MINUTE_MS - now % MINUTE_MS) / 1000 + 0.01)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
