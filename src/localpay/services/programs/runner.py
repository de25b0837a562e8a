"""The execution job: pays approved batches in the background, and resumes them.

On start, and then every few seconds (or at once when woken, after an approval), any
batch approved on the ledger and not fully done is run from its recorded cursor. A
server killed mid-batch continues at its next start; `localpay batch run` does the same
in the foreground. Batches.run holds one lock per process, so two runs never overlap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from localpay.domain.errors import LocalpayError
from localpay.services.programs.batches import Batches

log = logging.getLogger(__name__)
INTERVAL_S = 2.0


class BatchRunner:
    def __init__(
        self, batches: Batches, cities: Callable[[], list[str]], interval_s: float = INTERVAL_S
    ) -> None:
        self.batches = batches
        self.cities = cities
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="batch-runner", daemon=True)

    def start(self) -> BatchRunner:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def run_once(self) -> None:
        for city in self.cities():
            # Only a city whose sequencer runs: asking `ledgers.sequencer()` of a failed one
            # would restart it every round, behind the supervisor's back and its backoff.
            running = self.batches.ledgers.running_sequencer(city)
            if running is None or not running.running:
                continue
            try:
                for batch in self.batches.resumable(city):
                    self.batches.run(city, batch, self._stop)
            except (LocalpayError, TimeoutError) as exc:  # tried again at the next round
                log.warning("batch run for %s stopped: %s", city, type(exc).__name__)
