"""Every command id a city ever applied, in a few bits each: a scalable Bloom filter.

A command id is applied at most once, forever. Holding every id in a set costs about
100 bytes per transaction (a million transactions: ~100 MiB per city); this filter
costs about 2 bytes per id. It answers "certainly new" or "maybe seen": a new id is
sequenced at once, and a "maybe" is settled by the store's index of ids (`find_tx`),
which is exact — so a false positive costs one indexed read, never a wrong answer.
Ids not yet durable are not the filter's business: the sequencer keeps them in memory
until their block is written.

Bits are chosen by a keyed BLAKE2b of the id with a key drawn at start, so ids picked
by an outsider cannot be aimed at the filter's bits to force store reads. When the
current filter holds its capacity a new one twice as large is added, each with half
the error rate of the one before, so the whole stays below `ERROR_RATE`.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from typing import Final

#: Chance that a new id is answered "maybe seen" (and costs a store read), at most.
ERROR_RATE: Final = 0.001
#: Ids the first filter is made for when the city's size is not known (a new city).
FIRST_CAPACITY: Final = 4096

_MASK64: Final = (1 << 64) - 1


class _Filter:
    __slots__ = ("bits", "capacity", "count", "hashes", "size")

    def __init__(self, capacity: int, error_rate: float) -> None:
        self.capacity = capacity
        self.count = 0
        self.size = max(64, math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2))
        self.hashes = max(1, round(self.size / capacity * math.log(2)))
        self.bits = bytearray((self.size + 7) // 8)

    def positions(self, h1: int, h2: int) -> list[int]:
        size = self.size
        return [(h1 + i * h2) % size for i in range(self.hashes)]

    def add(self, h1: int, h2: int) -> None:
        bits = self.bits
        for p in self.positions(h1, h2):
            bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def __contains__(self, pair: tuple[int, int]) -> bool:
        bits = self.bits
        return all(bits[p >> 3] >> (p & 7) & 1 for p in self.positions(*pair))


class SeenIds:
    """'Certainly new' or 'maybe seen' for command ids; never 'new' for an id added."""

    def __init__(self, expected: int = 0, error_rate: float = ERROR_RATE) -> None:
        # The first filter takes half the error budget, the next a quarter, ...
        self._rate = error_rate / 2
        # Room for an eighth more before the first larger filter is added.
        self._filters = [_Filter(max(FIRST_CAPACITY, expected + expected // 8), self._rate)]
        self._key = os.urandom(16)

    @classmethod
    def of(cls, ids: Iterable[str], expected: int = 0) -> SeenIds:
        seen = cls(expected)
        for tx_id in ids:
            seen.add(tx_id)
        return seen

    def _pair(self, tx_id: str) -> tuple[int, int]:
        digest = hashlib.blake2b(tx_id.encode(), digest_size=16, key=self._key).digest()
        value = int.from_bytes(digest, "little")
        return value & _MASK64, (value >> 64) | 1

    def add(self, tx_id: str) -> None:
        last = self._filters[-1]
        if last.count >= last.capacity:
            last = _Filter(2 * last.capacity, self._rate / 2 ** len(self._filters))
            self._filters.append(last)
        last.add(*self._pair(tx_id))

    def __contains__(self, tx_id: object) -> bool:
        if not isinstance(tx_id, str):
            return False
        pair = self._pair(tx_id)
        return any(pair in f for f in self._filters)

    def __len__(self) -> int:
        return sum(f.count for f in self._filters)

    @property
    def nbytes(self) -> int:
        """Memory of the bit arrays."""
        return sum(len(f.bits) for f in self._filters)
