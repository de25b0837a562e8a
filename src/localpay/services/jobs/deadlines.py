"""An in-memory index of a city's open records by deadline, for the minute jobs (lapsed
orders, expired holds).

Kept in memory so a minute's check reads no more than what happened since the last one:
loaded once from the state (every record still open), then followed through the
transaction log from where the load left off (each new accepted transaction of the kind
that opens one). A record closed meanwhile is skipped when it falls due: it is read
again from the state then."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import msgspec

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.blocks import BlockHeader
from localpay.ledger.ports import Store
from localpay.services.cities.ledgers import Ledgers
from localpay.services.jobs.submit import Tally, operator_signer, submit_all


class Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Record)


class Deadlines(Generic[R]):
    """A city's open records of one type (state keys `key` + id), by deadline."""

    def __init__(
        self,
        store: Store,
        city: str,
        *,
        opened_by: str,
        key: str,
        record: type[R],
        deadline: Callable[[R], int],
        is_open: Callable[[R], bool],
    ) -> None:
        self.store = store
        self.city = city
        self._opened_by = opened_by
        self._key = key
        self._decoder = msgspec.json.Decoder(record)
        self._deadline = deadline
        self._is_open = is_open
        self._heap: list[tuple[int, str]] = []
        self._known: set[str] = set()
        # The head first, then the state: a record committed in between is in the log
        # past the cursor, so it is found either way (twice is harmless).
        head = store.head(city)
        self._cursor = (
            0 if head is None else msgspec.json.decode(head.header_bytes, type=BlockHeader).log_size
        )
        for state_key, raw in store.state(city):
            if state_key.startswith(key):
                found = self._decoder.decode(raw)
                if is_open(found):
                    self._add(found)

    def _load(self, ident: str) -> R | None:
        raw = self.store.state_value(self.city, f"{self._key}{ident}")
        return None if raw is None else self._decoder.decode(raw)

    def _add(self, record: R) -> None:
        if record.id not in self._known:
            self._known.add(record.id)
            heapq.heappush(self._heap, (self._deadline(record), record.id))

    def follow(self) -> None:
        """Take in the records the log opened since the last look."""
        for tx in self.store.txs(self.city, self._cursor):
            self._cursor = tx.seq + 1
            if tx.kind == self._opened_by and tx.decoded_result().code == Code.OK:
                found = self._load(tx.id)
                if found is not None and self._is_open(found):
                    self._add(found)

    def due(self, now_ms: int) -> list[R]:
        """Records past their deadline and still open; taken out of the index (`again`
        puts back those whose closing did not get an answer)."""
        found = []
        while self._heap and self._heap[0][0] <= now_ms:
            _, ident = heapq.heappop(self._heap)
            self._known.discard(ident)
            record = self._load(ident)
            if record is not None and self._is_open(record):
                found.append(record)
        return found

    def again(self, records: list[R]) -> None:
        for record in records:
            self._add(record)

    def __len__(self) -> int:
        return len(self._heap)


def close_due(
    ledgers: Ledgers, index: Deadlines[R], now_ms: int, close: Callable[[R], c.Command]
) -> Tally:
    """Submit `close` of each record due, signed by the operator."""
    index.follow()
    due = index.due(now_ms)
    if not due:
        return Tally()
    sign = operator_signer(ledgers, index.city)
    envelopes = [sign(close(record)) for record in due]
    try:
        return submit_all(ledgers, index.city, envelopes)
    except BaseException:
        index.again(due)  # asked again next minute, under the same ids
        raise
