"""Lapsed orders: an order whose deposit did not come by its deadline gets `lapse_order`
(its discount back to the budget, the buyer's room back), checked every minute.

Which orders are open is kept in memory (deadlines.Deadlines, as for expired holds), so a
minute's check reads no more than what happened since the last one: loaded once from the
state (every purchase still `ordered`), then followed through the transaction log from
where the load left off (each new `order_purchase` accepted).
The deadline is the ledger's, read from the purchase."""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.ledger.ports import Store
from localpay.ledger.state import ORDERED, Purchase
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs.deadlines import Deadlines, close_due
from localpay.services.jobs.submit import Tally, job_id


class OpenOrders(Deadlines[Purchase]):
    """A city's orders waiting for their deposit, by deadline."""

    def __init__(self, store: Store, city: str) -> None:
        super().__init__(
            store,
            city,
            opened_by="order_purchase",
            key="u:",  # as scan.purchases reads them
            record=Purchase,
            deadline=lambda purchase: purchase.deadline_ms,
            is_open=lambda purchase: purchase.status == ORDERED,
        )


def run(ledgers: Ledgers, orders: OpenOrders, now_ms: int) -> Tally:
    city = orders.city
    return close_due(
        ledgers,
        orders,
        now_ms,
        lambda p: c.LapseOrder(
            id=job_id(city, "lapse_order", p.id), city=city, wallet=p.wallet, order=p.id
        ),
    )
