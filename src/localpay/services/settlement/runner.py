"""Settlement on its own clock in `localpay serve`: every minute the bank's answers are
taken (and files it has not taken yet are sent again); once a business day, after the
cut-off, the daily batch runs. A failure is logged and tried again the next minute:
every step is idempotent (services/settlement/service.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from localpay.domain import business_days as days
from localpay.domain.errors import LocalpayError
from localpay.services.settlement.service import SettlementService

log = logging.getLogger("localpay.settlement")

EVERY_S: Final = 60.0


class SettlementRunner:
    def __init__(
        self,
        service: SettlementService,
        cities: Callable[[], list[str]],
        clock: Callable[[], int],
        every_s: float = EVERY_S,
    ) -> None:
        self.service = service
        self.cities = cities
        self.clock = clock
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settlement", daemon=True)
        self._batched: dict[str, str] = {}  # city -> the day its batch last ran

    def start(self) -> SettlementRunner:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            for city in self.cities():
                self.tick(city, self.clock())

    def tick(self, city: str, now: int) -> None:
        try:
            self.service.poll(city, now)
            today = days.kst_date(now)
            cutoff = days.batch_cutoff_ms(today, self.service.cutoff_minutes)
            if now >= cutoff and self._batched.get(city) != today.isoformat():
                self.service.daily(city, now)
                self._batched[city] = today.isoformat()
            self.service.prove(city, now)
        except LocalpayError as exc:  # the bank down, a refusal: the next minute again
            log.warning("settlement of %s: %s", city, exc)
