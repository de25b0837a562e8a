"""The card host on a real loopback TCP port, in a thread of its own (as `localpay serve`
runs it), in front of `cardhost_double.Ledgerless`, a small card authority written for
these tests. The host's own tests (framing, concurrency, garbage) need no more than
that; the end to end tests through the real service live beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cardhost_double import Ledgerless, Running

from localpay.entrypoints.cardhost.framing import Limits
from localpay.entrypoints.cardhost.server import CardHost, HostThread


@pytest.fixture
def start_host() -> Iterator[Callable[..., Running]]:
    threads: list[HostThread] = []

    def start(authority: Ledgerless | None = None, **limits: float) -> Running:
        authority = authority or Ledgerless()
        host = CardHost(authority, Limits(**limits))  # type: ignore[arg-type]
        thread = HostThread(host, "127.0.0.1", 0).start()
        threads.append(thread)
        return Running(host, authority, host.port)

    yield start
    for thread in threads:
        thread.close()
