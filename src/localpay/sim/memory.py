"""Resident memory of a real server: `localpay serve` in a child process, once it has
started every city of its store (each city's sequencer, its Merkle log, the history
index) and its memory has stopped growing. For `make bench`: one server holding many
small cities, and one city as its chain grows.

RSS is the kernel's VmRSS of the server process (Linux /proc), in MiB: what the
machine actually gives it, allocator slack and interpreter included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from localpay.ledger.ports import Store
from localpay.services.cities.ledgers import Keys, Ledgers
from localpay.sim.bench import BenchCity
from localpay.sim.http_bench import Server

#: Cities one server is measured holding (the goal: 230 small cities in < 4 GiB).
SMALL_CITIES: Final = 230
#: A small city: its genesis, a program, so many wallets and merchants, a few payments.
SMALL_WALLETS: Final = 10
SMALL_MERCHANTS: Final = 2
SMALL_PAYMENTS: Final = 20
#: RSS readings this close (MiB), this many times in a row, count as settled.
SETTLED_MIB: Final = 1.0
SETTLED_READINGS: Final = 4


def resident_mib(pid: int) -> float:
    """VmRSS of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def settled_rss_mib(pid: int, timeout: float = 180.0, interval: float = 0.5) -> float:
    """The RSS once it stopped moving (the background loads are done), or at `timeout`."""
    readings = [resident_mib(pid)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        readings.append(resident_mib(pid))
        last = readings[-SETTLED_READINGS:]
        if len(last) == SETTLED_READINGS and max(last) - min(last) < SETTLED_MIB:
            break
    return readings[-1]


def server_rss_mib(url: str, keys_dir: Path) -> float:
    """RSS of `localpay serve` on this store once every city is started and settled."""
    with Server(url, keys_dir) as server:
        assert server.process is not None
        return round(settled_rss_mib(server.process.pid), 1)


def small_cities(
    store: Store, keys: Keys, clock: Callable[[], int], count: int, prefix: str = "small"
) -> list[str]:
    """`count` small funded cities, each written by its own sequencer, then closed."""
    cities = []
    for n in range(count):
        city = f"{prefix}-{n:04d}"
        ledgers = Ledgers(store, keys, clock)
        try:
            bench = BenchCity(ledgers, city)
            bench.set_up(SMALL_WALLETS, SMALL_MERCHANTS)
            paid = ledgers.execute_many(city, bench.payments(SMALL_PAYMENTS))
            if not all(r.ok for r in paid):
                raise RuntimeError(f"a payment of {city} failed: {paid}")
        finally:
            ledgers.close()
        cities.append(city)
    return cities


def rss_of_small_cities(
    store: Store, url: str, keys: Keys, keys_dir: Path, clock: Callable[[], int], count: int
) -> dict[str, Any]:
    """One server holding `count` small cities (made first in `store`, found at `url`)."""
    begin = time.perf_counter()
    small_cities(store, keys, clock, count)
    built = time.perf_counter() - begin
    return {
        "rss_cities": count,
        f"rss_{count}_cities_mib": server_rss_mib(url, keys_dir),
        "rss_cities_build_s": round(built, 1),
    }
