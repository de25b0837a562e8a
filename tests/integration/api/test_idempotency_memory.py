"""The idempotency records in memory are bounded by bytes, not only by count; a record
dropped from memory is still answered from the table. Both stores."""

from __future__ import annotations

import threading

from localpay.adapters.clock import now_ms
from localpay.adapters.sql.idempotency import SqlIdempotencyRepository
from localpay.entrypoints.api.middleware.idempotency import MEMORY_BYTES, Record, Records
from localpay.entrypoints.api.middleware.response_cache import ResponseCache, entry_bytes
from localpay.ledger.ports import Store


def _record(n: int, size: int) -> Record:
    return Record(f"{n:064x}", 200, bytes([n % 251]) * size, "application/json")


def test_the_cache_keeps_the_newest_within_its_bytes_and_its_count() -> None:
    cache: ResponseCache[Record] = ResponseCache(max_records=1000, max_bytes=100_000)
    for n in range(200):
        cache.put(("anonymous", f"k{n}"), _record(n, 10_000))
    assert cache.nbytes <= 100_000
    assert len(cache) == 100_000 // entry_bytes(("anonymous", "k0"), _record(0, 10_000))
    assert ("anonymous", "k199") in cache and ("anonymous", "k0") not in cache
    counted: ResponseCache[Record] = ResponseCache(max_records=3, max_bytes=10**9)
    for n in range(5):
        counted.put(("a", str(n)), _record(n, 1))
    assert list(counted) == [("a", "2"), ("a", "3"), ("a", "4")]
    # Replacing or deleting an entry gives its bytes back.
    counted.put(("a", "4"), _record(4, 100))
    del counted[("a", "3")]
    assert counted.nbytes == sum(entry_bytes(k, counted.get(k)) for k in counted)  # type: ignore[arg-type]
    too_big = _record(9, 10**9 + 1)
    counted.put(("a", "huge"), too_big)
    assert ("a", "huge") not in counted


def test_records_beyond_memory_are_answered_from_the_table(store: Store) -> None:
    records = Records(SqlIdempotencyRepository(store), now_ms)  # type: ignore[arg-type]
    try:
        size = 60_000  # about the largest body a request may have
        count = 2 * MEMORY_BYTES // size
        written = threading.Semaphore(0)
        for n in range(count):
            records.put("anonymous", f"key-{n}", _record(n, size), lambda _: written.release())
        for _ in range(count):
            assert written.acquire(timeout=60)
        assert records.memory.nbytes <= MEMORY_BYTES
        assert len(records.memory) < count
        assert records.remembered("anonymous", "key-0") is None  # gone from memory...
        assert records.get("anonymous", "key-0") == _record(0, size)  # ...not from the table
        assert records.remembered("anonymous", f"key-{count - 1}") == _record(count - 1, size)
    finally:
        records.close()
