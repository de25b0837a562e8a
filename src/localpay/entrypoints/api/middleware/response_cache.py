"""The idempotency records kept in memory: the most recent, bounded by count and by bytes.

Every record is in the `idempotency` table as well (it is written there before its
answer leaves), so memory only saves a read for the repeats that come soon after the
first attempt, which is when clients retry. A count alone does not bound memory: a
response body may be up to the request limit and more, so the cache also stops at
`max_bytes` of bodies and keys, dropping the least recently stored first.
Not thread-safe: its owner (`Records`) holds its lock around every call.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Final, Generic, Protocol, TypeVar

#: What one entry costs beyond its body and key text: the tuple, the record object, the
#: dict slot and the linked-list node of the OrderedDict, measured roughly (CPython 3.11).
ENTRY_OVERHEAD_BYTES: Final = 400


class Sized(Protocol):
    @property
    def body(self) -> bytes: ...


V = TypeVar("V", bound=Sized)
Key = tuple[str, str]


def entry_bytes(key: Key, value: Sized) -> int:
    return len(value.body) + len(key[0]) + len(key[1]) + ENTRY_OVERHEAD_BYTES


class ResponseCache(Generic[V]):
    """An LRU by insertion of (scope, key) -> record, within `max_records` and `max_bytes`."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: collections.OrderedDict[Key, V] = collections.OrderedDict()

    def get(self, key: Key) -> V | None:
        return self._items.get(key)

    def put(self, key: Key, value: V) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= entry_bytes(key, old)
        size = entry_bytes(key, value)
        if size > self.max_bytes:
            return  # larger than the whole cache: the table alone keeps it
        self._items[key] = value
        self.nbytes += size
        while len(self._items) > self.max_records or self.nbytes > self.max_bytes:
            dropped_key, dropped = self._items.popitem(last=False)
            self.nbytes -= entry_bytes(dropped_key, dropped)

    def __delitem__(self, key: Key) -> None:
        value = self._items.pop(key)
        self.nbytes -= entry_bytes(key, value)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)
