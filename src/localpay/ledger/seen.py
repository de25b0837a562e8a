"""Every command id a city ever applied, in a few bits each: a scalable Bloom filter.

A command id is applied at most once, forever. Holding every id in a set costs about
100 bytes per transaction (a million transactions: ~100 MiB per city); this filter
costs 2 to 4 bytes per id. It answers "certainly new" or "maybe seen": a new id is
sequenced at once, and a "maybe" is settled by the store's index of ids (`find_tx`),
which is exact — so a false positive costs one indexed read, never a wrong answer.
Ids not yet durable are not the filter's business: the sequencer keeps them in memory
until their block is written.

Bits are chosen from the id's own `hash()`: SipHash under a key CPython draws at each
start (PYTHONHASHSEED stays unset in production), so ids picked by an outsider cannot be
aimed at the filter's bits to force store reads; and the id string caches it, so the
sequencer's dict look-ups and the filter share one hashing. Its 64 bits give two 32-bit
halves, combined (h1 + i * h2) for the filter's k probes in a power-of-two bit array.
When the current filter holds its capacity a new one twice as large is added, each with
half the error rate of the one before, so the whole stays below `ERROR_RATE`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

#: Chance that a new id is answered "maybe seen" (and costs a store read), at most.
ERROR_RATE: Final = 0.001
#: Ids the first filter is made for when the city's size is not known (a new city).
FIRST_CAPACITY: Final = 4096

_LOW32: Final = 0xFFFFFFFF


class _Filter:
    __slots__ = ("bits", "capacity", "count", "mask", "probes")

    def __init__(self, capacity: int, error_rate: float) -> None:
        self.capacity = capacity
        self.count = 0
        ideal = -capacity * math.log(error_rate) / math.log(2) ** 2
        size = 1 << max(6, math.ceil(math.log2(ideal)))  # a power of two: a mask, no modulo
        self.mask = size - 1
        # The probes the error rate needs; the rounded-up size only lowers the rate.
        self.probes = max(1, round(-math.log2(error_rate)))
        self.bits = bytearray(size // 8)

    def add(self, h1: int, h2: int) -> None:
        bits, mask = self.bits, self.mask
        for _ in range(self.probes):
            p = h1 & mask
            bits[p >> 3] |= 1 << (p & 7)
            h1 += h2
        self.count += 1

    def holds(self, h1: int, h2: int) -> bool:
        bits, mask = self.bits, self.mask
        for _ in range(self.probes):  # a new id usually stops at the first or second probe
            p = h1 & mask
            if not bits[p >> 3] >> (p & 7) & 1:
                return False
            h1 += h2
        return True


def _halves(tx_id: str) -> tuple[int, int]:
    h = hash(tx_id)
    return h & _LOW32, (h >> 32) & _LOW32 | 1


class SeenIds:
    """'Certainly new' or 'maybe seen' for command ids; never 'new' for an id added."""

    def __init__(self, expected: int = 0, error_rate: float = ERROR_RATE) -> None:
        # The first filter takes half the error budget, the next a quarter, ...
        self._rate = error_rate / 2
        # Room for an eighth more before the first larger filter is added.
        self._filters = [_Filter(max(FIRST_CAPACITY, expected + expected // 8), self._rate)]

    @classmethod
    def of(cls, ids: Iterable[str], expected: int = 0) -> SeenIds:
        seen = cls(expected)
        for tx_id in ids:
            seen.add(tx_id)
        return seen

    def add(self, tx_id: str) -> None:
        last = self._filters[-1]
        if last.count >= last.capacity:
            last = _Filter(2 * last.capacity, self._rate / 2 ** len(self._filters))
            self._filters.append(last)
        last.add(*_halves(tx_id))

    def __contains__(self, tx_id: object) -> bool:
        if not isinstance(tx_id, str):
            return False
        h1, h2 = _halves(tx_id)
        for f in self._filters:  # noqa: SIM110 (on every command's path: no generator)
            if f.holds(h1, h2):
                return True
        return False

    def __len__(self) -> int:
        return sum(f.count for f in self._filters)

    @property
    def nbytes(self) -> int:
        """Memory of the bit arrays."""
        return sum(len(f.bits) for f in self._filters)
