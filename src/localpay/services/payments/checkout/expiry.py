"""The checkout expiry job: intents not approved in time are marked expired, in the store
only (nothing of an unapproved intent is on the chain). Approved intents are the chain's:
their holds expire by the ledger's own rule (HOLD_VALID_MS) and the operator's jobs
release them.

A status read already says `expired` once the time is past (services status.derive); the
job records it so the store's lists by status agree and the expiry is kept for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from localpay.domain.errors import LocalpayError
from localpay.services.payments.checkout.service import Checkout

log = logging.getLogger("localpay.checkout")

#: How often the job looks (seconds): an intent's status is right between the runs anyway.
INTERVAL_S: Final = 30.0


class ExpiryRunner:
    def __init__(
        self, checkout: Checkout, clock: Callable[[], int], interval_s: float = INTERVAL_S
    ) -> None:
        self.checkout = checkout
        self.clock = clock
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="checkout-expiry", daemon=True)

    def start(self) -> ExpiryRunner:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)

    def run_once(self) -> int:
        try:
            return self.checkout.expire_due(self.clock())
        except (LocalpayError, TimeoutError) as exc:  # tried again at the next round
            log.warning("checkout expiry stopped: %s", type(exc).__name__)
            return 0
