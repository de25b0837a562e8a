"""One mock-bank process for a test module or session, and its client.

    with mock_bank(tmp_path, clock="2026-06-08T09:00") as (client, url):
        ...

The process runs on a free loopback port in Korean bank time; its SQLite file and log
live in `folder` (a temporary folder if none is given), and it is stopped on exit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from localpay.adapters.bank.mockbank import MockBankClient
from localpay.adapters.bank.process import start

#: A Monday morning, 09:00 KST, with no holiday near: bank time for tests starts here.
MONDAY_MORNING = "2026-06-08T09:00"


class RunningMockBank(NamedTuple):
    client: MockBankClient
    url: str


@contextmanager
def mock_bank(
    folder: Path | None = None, *, cutoff_minutes: int = 15 * 60, clock: str = MONDAY_MORNING
) -> Iterator[RunningMockBank]:
    """A running mock-bank and a client of it; stopped (and its client closed) on exit."""
    with tempfile.TemporaryDirectory(prefix="mock-bank-") as spare:
        process = start(folder or Path(spare), cutoff_minutes=cutoff_minutes, clock=clock)
        client = MockBankClient(process.url)
        try:
            yield RunningMockBank(client, process.url)
        finally:
            client.close()
            process.stop()
