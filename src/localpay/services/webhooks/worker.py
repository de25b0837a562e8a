"""The webhooks' background worker in `localpay serve`: a thread that delivers what is
due, woken by each committed block (it is a block observer) and at least every POLL_S
for the retries. A failed tick (a store outage) is logged and tried again."""

from __future__ import annotations

import threading
from typing import Final

import structlog

from localpay.ledger.blocks import BlockRecord
from localpay.ledger.results import Result
from localpay.services.webhooks.delivery import Deliverer

POLL_S: Final = 1.0

log = structlog.get_logger("localpay.webhooks")


class Worker:
    def __init__(self, deliverer: Deliverer, poll_s: float = POLL_S) -> None:
        self.deliverer = deliverer
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        self._wake.set()  # on the sequencer's thread: only a flag, never a POST

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self._loop, name="localpay-webhooks", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                done = self.deliverer.tick()
                if done.delivered or done.failed:
                    log.info("webhooks_tick", delivered=done.delivered, failed=done.failed)
            except Exception:
                self.failures += 1
                log.exception("webhooks_tick_failed")
            self._wake.wait(self.poll_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.deliverer.close()
