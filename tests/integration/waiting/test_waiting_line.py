"""The waiting room on both stores: first come first served, paced admission, honest
estimates, a restart that keeps every place, budget-out told to everyone, tenants apart."""

from __future__ import annotations

import math
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.runner import SqlStore
from localpay.services.waiting.budget import ledger_budget
from localpay.services.waiting.service import (
    ADMITTED,
    ENDED,
    EXPIRED,
    WAITING,
    BadOpening,
    SaleEnded,
    UnknownTicket,
    WaitingRoom,
)
from localpay.testing.waiting import OPENS, Clock, room_over, sale_city

CITY, PROGRAM = "gimpo", "general"


def key() -> str:
    return secrets.token_urlsafe(18)


def join_many(room: WaitingRoom, n: int, city: str = CITY, program: str = PROGRAM) -> list[str]:
    return [room.join(city, program, key()).ticket for _ in range(n)]


def test_first_come_first_served(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=2)
    tickets = join_many(room, 6)
    places = [room.status(CITY, PROGRAM, t).position for t in tickets]
    assert places == [1, 2, 3, 4, 5, 6]  # in arrival order, before the opening too
    clock.now = OPENS + 1_000
    states = [room.status(CITY, PROGRAM, t).state for t in tickets]
    assert states == [ADMITTED, ADMITTED, WAITING, WAITING, WAITING, WAITING]
    clock.advance(1_000)
    states = [room.status(CITY, PROGRAM, t).state for t in tickets]
    assert states == [ADMITTED] * 4 + [WAITING] * 2
    assert room.status(CITY, PROGRAM, tickets[4]).ahead == 0


def test_same_key_same_place(room: WaitingRoom) -> None:
    room.schedule(CITY, PROGRAM, OPENS)
    first = room.join(CITY, PROGRAM, "a-key-of-sixteen-chars")
    join_many(room, 3)
    again = room.join(CITY, PROGRAM, "a-key-of-sixteen-chars")
    assert again.ticket == first.ticket and again.status.position == 1


def test_pacing_admits_at_most_rate_times_t(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=7)
    join_many(room, 200)
    clock.now = OPENS
    for elapsed_ms in range(0, 10_001, 250):
        clock.now = OPENS + elapsed_ms
        view = room.view(CITY, PROGRAM)
        assert view is not None
        assert view.opening.head <= 7 * elapsed_ms // 1000  # never ahead of the rate
        assert view.opening.head >= 7 * (elapsed_ms - room.tick_ms) // 1000 - 1
    view = room.view(CITY, PROGRAM)
    assert view is not None and view.opening.head == 70


def test_estimate_is_honest(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=5)
    tickets = join_many(room, 60)
    clock.now = OPENS - 10_000
    said = {t: room.status(CITY, PROGRAM, t).estimate_s for t in tickets}
    assert said[tickets[0]] == 10 + 1 and said[tickets[49]] == 10 + 10
    admitted_at: dict[str, int] = {}
    while len(admitted_at) < len(tickets):
        clock.advance(100)
        for t in tickets:
            if t not in admitted_at and room.status(CITY, PROGRAM, t).state == ADMITTED:
                admitted_at[t] = clock.now
    for t in tickets:
        waited_s = (admitted_at[t] - (OPENS - 10_000)) / 1000
        estimate = said[t]
        assert estimate is not None
        # admitted within the estimate, and not more than a tick and a second early
        assert estimate - 1 - room.tick_ms / 1000 <= waited_s <= estimate + room.tick_ms / 1000


def test_restart_keeps_tickets_places_and_admissions(store: SqlStore, clock: Clock) -> None:
    room = room_over(store, clock)
    room.schedule(CITY, PROGRAM, OPENS, rate=3, window_minutes=10)
    tickets = join_many(room, 10)
    clock.now = OPENS + 2_000
    assert room.status(CITY, PROGRAM, tickets[5]).state == ADMITTED
    before = [room.status(CITY, PROGRAM, t) for t in tickets]
    restarted = room_over(store, clock)  # a new process over the same store
    after = [restarted.status(CITY, PROGRAM, t) for t in tickets]
    assert after == before
    late = restarted.join(CITY, PROGRAM, key())
    assert late.status.position == 11 - 6
    clock.advance(1_000)  # the bucket goes on where it was: 3 more a second
    view = restarted.view(CITY, PROGRAM)
    assert view is not None and view.opening.head == 9


def test_window_runs_out_unless_active(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=10, window_minutes=1)
    idle, busy = join_many(room, 2)
    clock.now = OPENS + 1_000
    assert room.admitted(CITY, PROGRAM, busy)
    clock.advance(40_000)
    assert room.admitted(CITY, PROGRAM, busy)  # active: the window runs from now
    clock.advance(30_000)
    assert room.status(CITY, PROGRAM, idle).state == EXPIRED
    assert not room.admitted(CITY, PROGRAM, idle)
    assert room.status(CITY, PROGRAM, busy).state == ADMITTED


def test_pause_stops_admission_and_estimates(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=10)
    tickets = join_many(room, 30)
    clock.now = OPENS + 1_000
    room.set_paused(CITY, PROGRAM, True)
    clock.advance(5_000)
    status = room.status(CITY, PROGRAM, tickets[-1])
    assert status.paused and status.estimate_s is None and status.position == 20
    room.set_paused(CITY, PROGRAM, False)
    clock.advance(1_000)
    assert room.status(CITY, PROGRAM, tickets[-1]).position == 10  # no burst for the pause


def test_other_city_or_program_ticket_is_not_accepted(room: WaitingRoom, clock: Clock) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=100)
    room.schedule("yangju", PROGRAM, OPENS, rate=100)
    room.schedule(CITY, "youth", OPENS, rate=100)
    theirs = room.join("yangju", PROGRAM, key()).ticket
    other_program = room.join(CITY, "youth", key()).ticket
    clock.now = OPENS + 2_000
    assert room.admitted("yangju", PROGRAM, theirs)
    for ticket in (theirs, other_program, "x" * 43, "not a ticket"):
        assert not room.admitted(CITY, PROGRAM, ticket)
        with pytest.raises(UnknownTicket):
            room.status(CITY, PROGRAM, ticket)


def test_no_opening_means_everyone_may_buy(room: WaitingRoom) -> None:
    assert room.admitted(CITY, PROGRAM, None)
    assert not room.gated(CITY, PROGRAM)


def test_bad_schedule_is_refused_and_changes_nothing(room: WaitingRoom) -> None:
    for bad in ({"rate": 0}, {"rate": 10_001}, {"window_minutes": 0}):
        with pytest.raises(BadOpening):
            room.schedule(CITY, PROGRAM, OPENS, **bad)
    with pytest.raises(BadOpening):
        room.schedule(CITY, "Bad Program", OPENS)
    assert room.view(CITY, PROGRAM) is None
    with pytest.raises(BadOpening):
        room.join(CITY, PROGRAM, "short")


@pytest.mark.parametrize("when_out", ["no_discount", "stop"])
def test_budget_used_up_is_told_to_everyone(
    store: SqlStore, keys: KeyStore, clock: Clock, when_out: str
) -> None:
    # 100,000 won of discount: ten orders of 100,000 won at 10 % use it up
    with sale_city(store, keys, 100_000, when_out) as sale:
        room = room_over(store, clock, budget=ledger_budget(sale.ledgers))
        room.schedule(CITY, PROGRAM, OPENS, rate=1)
        tickets = join_many(room, 3)
        clock.now = OPENS + 1_000
        first = room.status(CITY, PROGRAM, tickets[0])
        assert first.state == ADMITTED and not first.budget_used_up
        assert first.budget_left == 100_000
        wallets = list(sale.keys)
        for n in range(10):
            assert sale.order(wallets[n % 4], 100_000) == "ok"
        waiting, admitted = (room.status(CITY, PROGRAM, t) for t in (tickets[2], tickets[0]))
        for status in (waiting, admitted):
            assert status.budget_used_up and status.budget_left == 0
            assert status.when_budget_out == when_out
        if when_out == "stop":
            assert waiting.state == admitted.state == ENDED
            assert not room.admitted(CITY, PROGRAM, tickets[0])
            with pytest.raises(SaleEnded):
                room.join(CITY, PROGRAM, key())
        else:
            assert (waiting.state, admitted.state) == (WAITING, ADMITTED)
            assert room.admitted(CITY, PROGRAM, tickets[0])
            assert math.isclose(waiting.position, 2)


def test_concurrent_arrivals_each_get_their_own_place(room: WaitingRoom) -> None:
    room.schedule(CITY, PROGRAM, OPENS, rate=1)
    keys = [key() for _ in range(200)]
    twice = keys[:5] * 3  # double clicks and retries, at the same moment as the rest
    with ThreadPoolExecutor(16) as pool:
        joined = list(pool.map(lambda k: room.join(CITY, PROGRAM, k), keys + twice))
    by_key: dict[str, str] = {}
    for k, j in zip(keys + twice, joined, strict=True):
        assert by_key.setdefault(k, j.ticket) == j.ticket  # the same key, the same ticket
    places = [room.status(CITY, PROGRAM, t).position for t in by_key.values()]
    assert len(set(places)) == 200  # nobody shares a place
    assert max(places) <= 200 + len(twice)  # at most a skipped number per racing retry
