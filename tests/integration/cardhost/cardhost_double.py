"""A test double of the card service (H3's, services/payments/card) that keeps the
CardAuthority promise honestly: balances per card, holds, duplicates answered with the
first answer, and an optional delay so that answers come back out of order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from localpay.entrypoints.cardhost.server import CardHost
from localpay.services.payments.card.messages import CardAnswer, CardRequest


@dataclass
class Ledgerless:
    balances: dict[str, int] = field(default_factory=dict)
    delay: Callable[[CardRequest], float] = lambda _: 0.0
    seen: list[CardRequest] = field(default_factory=list)
    answered: dict[tuple[str, str, str], CardAnswer] = field(default_factory=dict)
    busy: int = 0
    most_busy: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: CardRequest) -> CardAnswer:
        with self.lock:
            self.seen.append(request)
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            time.sleep(self.delay(request))
            return self._decide(request)
        finally:
            with self.lock:
                self.busy -= 1

    def _decide(self, request: CardRequest) -> CardAnswer:
        key = (request.terminal, request.stan, request.rrn)
        with self.lock:
            if key in self.answered:
                return self.answered[key]
            if request.pan not in self.balances:
                answer = CardAnswer("14")
            elif self.balances[request.pan] < request.amount:
                answer = CardAnswer("51", balance=self.balances[request.pan])
            else:
                self.balances[request.pan] -= request.amount
                answer = CardAnswer("00", f"{len(self.answered):06d}", self.balances[request.pan])
            self.answered[key] = answer
            return answer


@dataclass
class Running:
    host: CardHost
    authority: Ledgerless
    port: int
