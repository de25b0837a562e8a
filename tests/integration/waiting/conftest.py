"""A waiting room over the test's store (both stores), its clock in the test's hands."""

from __future__ import annotations

import pytest

from localpay.adapters.sql.runner import SqlStore
from localpay.services.waiting.service import WaitingRoom
from localpay.testing.waiting import OPENS, Clock, room_over


@pytest.fixture
def clock() -> Clock:
    return Clock(OPENS - 60_000)


@pytest.fixture
def room(store: SqlStore, clock: Clock) -> WaitingRoom:
    return room_over(store, clock)
