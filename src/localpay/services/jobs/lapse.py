"""Lapsed orders: an order whose deposit did not come by its deadline gets `lapse_order`
(its discount back to the budget, the buyer's room back), checked every minute.

Which orders are open is kept in memory, so a minute's check reads no more than what
happened since the last one: loaded once from the state (every purchase still `ordered`),
then followed through the transaction log from where the load left off (each new
`order_purchase` accepted). The deadline is the ledger's, read from the purchase."""

from __future__ import annotations

import heapq

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.ports import Store
from localpay.ledger.state import ORDERED, Purchase
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs import scan
from localpay.services.jobs.submit import Tally, job_id, operator_signer, submit_all


class OpenOrders:
    """A city's orders waiting for their deposit, by deadline."""

    def __init__(self, store: Store, city: str) -> None:
        self.store = store
        self.city = city
        self._heap: list[tuple[int, str]] = []
        self._known: set[str] = set()
        # The head first, then the state: an order committed in between is in the log
        # past the cursor, so it is found either way (twice is harmless).
        head = store.head(city)
        self._cursor = (
            0 if head is None else msgspec.json.decode(head.header_bytes, type=BlockHeader).log_size
        )
        for purchase in scan.purchases(store, city):
            if purchase.status == ORDERED:
                self._add(purchase)

    def _add(self, purchase: Purchase) -> None:
        if purchase.id not in self._known:
            self._known.add(purchase.id)
            heapq.heappush(self._heap, (purchase.deadline_ms, purchase.id))

    def follow(self) -> None:
        """Take in the orders the log recorded since the last look."""
        for tx in self.store.txs(self.city, self._cursor):
            self._cursor = tx.seq + 1
            if tx.kind == "order_purchase" and tx.decoded_result().code == Code.OK:
                found = scan.purchase(self.store, self.city, tx.id)
                if found is not None and found.status == ORDERED:
                    self._add(found)

    def due(self, now_ms: int) -> list[Purchase]:
        """Orders past their deadline and still waiting; taken out of the index (`again`
        puts back those whose lapse did not get an answer)."""
        found = []
        while self._heap and self._heap[0][0] <= now_ms:
            _, ident = heapq.heappop(self._heap)
            self._known.discard(ident)
            purchase = scan.purchase(self.store, self.city, ident)
            if purchase is not None and purchase.status == ORDERED:
                found.append(purchase)
        return found

    def again(self, purchases: list[Purchase]) -> None:
        for purchase in purchases:
            self._add(purchase)

    def __len__(self) -> int:
        return len(self._heap)


def run(ledgers: Ledgers, orders: OpenOrders, now_ms: int) -> Tally:
    city = orders.city
    orders.follow()
    due = orders.due(now_ms)
    if not due:
        return Tally()
    sign = operator_signer(ledgers, city)
    envelopes = [
        sign(
            c.LapseOrder(
                id=job_id(city, "lapse_order", p.id), city=city, wallet=p.wallet, order=p.id
            )
        )
        for p in due
    ]
    try:
        return submit_all(ledgers, city, envelopes)
    except BaseException:
        orders.again(due)  # asked again next minute, under the same ids
        raise
