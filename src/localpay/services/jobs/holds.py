"""Expired holds: a card authorization never completed or reversed, or a checkout approval
never captured, is released once its time is out (the ledger's `expires_ms`, HOLD_MS_MAX
after it was placed), signed by the operator and checked every minute.

The open holds are kept in memory (deadlines.Deadlines, as for lapsed orders in lapse.py):
loaded once from the state (every hold still `held`), then followed through the
transaction log (each new `hold` accepted). A hold captured or released meanwhile is
skipped when it falls due (read again from the state then)."""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.ledger.ports import Store
from localpay.ledger.state import HELD, HoldRecord
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs.deadlines import Deadlines, close_due
from localpay.services.jobs.submit import Tally, job_id


class OpenHolds(Deadlines[HoldRecord]):
    """A city's holds still held, by the time they expire."""

    def __init__(self, store: Store, city: str) -> None:
        super().__init__(
            store,
            city,
            opened_by="hold",
            key="h:",
            record=HoldRecord,
            deadline=lambda hold: hold.expires_ms,
            is_open=lambda hold: hold.status == HELD,
        )


def run(ledgers: Ledgers, holds: OpenHolds, now_ms: int) -> Tally:
    city = holds.city
    return close_due(
        ledgers,
        holds,
        now_ms,
        lambda h: c.Release(
            id=job_id(city, "release_hold", h.id),
            city=city,
            hold=h.id,
            wallet=h.wallet,
            merchant=h.merchant,
        ),
    )
