"""Reading the committed chain for the webhooks: pages of events in log order, one event
by id, where a height starts in the log, and where the log ends now."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from localpay.domain import commands as c
from localpay.domain.commands import DecodeError, decode_envelope
from localpay.ledger.blocks import TxRecord, decode_header
from localpay.ledger.ports import Store
from localpay.services.webhooks.events import Event, event_of

#: Block times kept per reader (one header read per block otherwise).
TIMES_KEPT: Final = 4_096


class ChainReader:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._times: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._lock = threading.Lock()  # the worker and the API's threads share a reader

    def time_ms(self, city: str, height: int) -> int:
        key = (city, height)
        with self._lock:
            found = self._times.get(key)
        if found is not None:
            return found
        found = 0
        for block in self.store.blocks(city, height, height + 1):
            found = decode_header(block.header_bytes).time_ms
        with self._lock:
            self._times[key] = found
            if len(self._times) > TIMES_KEPT:
                self._times.popitem(last=False)
        return found

    def origin(self, city: str, tx_id: str) -> c.Command | None:
        """The applied command of that id (the hold a capture names, the paid payment)."""
        tx = self.store.find_tx(city, tx_id)
        if tx is None or not tx.decoded_result().ok:
            return None
        try:
            return decode_envelope(tx.envelope)[1]
        except DecodeError:
            return None

    def event(self, city: str, tx: TxRecord) -> Event | None:
        return event_of(tx, self.time_ms(city, tx.height), lambda i: self.origin(city, i))

    def page(self, city: str, start: int, limit: int) -> list[tuple[int, Event | None]]:
        """(seq, event or None) of the transactions start <= seq < start + limit."""
        return [(tx.seq, self.event(city, tx)) for tx in self.store.txs(city, start, start + limit)]

    def find(self, city: str, tx_id: str) -> Event | None:
        tx = self.store.find_tx(city, tx_id)
        return self.event(city, tx) if tx is not None else None

    def last_seq(self, city: str) -> int:
        """The seq of the last committed transaction (-1 for an empty log)."""
        head = self.store.head(city)
        return decode_header(head.header_bytes).log_size - 1 if head is not None else -1

    def before_height(self, city: str, height: int) -> int | None:
        """The seq just before the first transaction of block `height` (None: no such
        block yet): the cursor that makes delivery start again at that height."""
        for block in self.store.blocks(city, height, height + 1):
            header = decode_header(block.header_bytes)
            return header.log_size - header.tx_count - 1
        return None
