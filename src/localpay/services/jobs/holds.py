"""Expired holds: a card authorization never completed or reversed, or a checkout approval
never captured, is released once its time is out (the ledger's `expires_ms`, HOLD_MS_MAX
after it was placed), signed by the operator and checked every minute.

As for lapsed orders (lapse.py), the open holds are kept in memory: loaded once from the
state (every hold still `held`), then followed through the transaction log (each new
`hold` accepted). A hold captured or released meanwhile is skipped when it falls due
(read again from the state then)."""

from __future__ import annotations

import heapq

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.ports import Store
from localpay.ledger.state import HELD, HoldRecord
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs.submit import Tally, job_id, operator_signer, submit_all

_HOLDS = msgspec.json.Decoder(HoldRecord)


def _hold(store: Store, city: str, ident: str) -> HoldRecord | None:
    raw = store.state_value(city, f"h:{ident}")
    return None if raw is None else _HOLDS.decode(raw)


class OpenHolds:
    """A city's holds still held, by the time they expire."""

    def __init__(self, store: Store, city: str) -> None:
        self.store = store
        self.city = city
        self._heap: list[tuple[int, str]] = []
        self._known: set[str] = set()
        # The head first, then the state: a hold committed in between is in the log past
        # the cursor, so it is found either way (twice is harmless).
        head = store.head(city)
        self._cursor = (
            0 if head is None else msgspec.json.decode(head.header_bytes, type=BlockHeader).log_size
        )
        for key, raw in store.state(city):
            if key.startswith("h:"):
                hold = _HOLDS.decode(raw)
                if hold.status == HELD:
                    self._add(hold)

    def _add(self, hold: HoldRecord) -> None:
        if hold.id not in self._known:
            self._known.add(hold.id)
            heapq.heappush(self._heap, (hold.expires_ms, hold.id))

    def follow(self) -> None:
        for tx in self.store.txs(self.city, self._cursor):
            self._cursor = tx.seq + 1
            if tx.kind == "hold" and tx.decoded_result().code == Code.OK:
                found = _hold(self.store, self.city, tx.id)
                if found is not None and found.status == HELD:
                    self._add(found)

    def due(self, now_ms: int) -> list[HoldRecord]:
        found = []
        while self._heap and self._heap[0][0] <= now_ms:
            _, ident = heapq.heappop(self._heap)
            self._known.discard(ident)
            hold = _hold(self.store, self.city, ident)
            if hold is not None and hold.status == HELD:
                found.append(hold)
        return found

    def again(self, holds: list[HoldRecord]) -> None:
        for hold in holds:
            self._add(hold)

    def __len__(self) -> int:
        return len(self._heap)


def run(ledgers: Ledgers, holds: OpenHolds, now_ms: int) -> Tally:
    city = holds.city
    holds.follow()
    due = holds.due(now_ms)
    if not due:
        return Tally()
    sign = operator_signer(ledgers, city)
    envelopes = [
        sign(
            c.Release(
                id=job_id(city, "release_hold", h.id),
                city=city,
                hold=h.id,
                wallet=h.wallet,
                merchant=h.merchant,
            )
        )
        for h in due
    ]
    try:
        return submit_all(ledgers, city, envelopes)
    except BaseException:
        holds.again(due)  # asked again next minute, under the same ids
        raise
