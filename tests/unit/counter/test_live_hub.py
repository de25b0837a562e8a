"""The counter's live hub on its own: each screen gets its merchant's events only, a
screen that falls behind is dropped (never waited for), and one that reconnects gets the
recent events after the last one it saw."""

from __future__ import annotations

import pytest

from localpay.services.counter.live import SUBSCRIBERS_MAX, LivePayments, LiveTx, TooManyScreens


def event(seq: int, amount: int = 1_000, kind: str = "pay") -> LiveTx:
    return LiveTx(seq, f"{seq:032x}", kind, amount, 1_780_000_000_000 + seq, f"{seq:032x}")


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_a_screen_gets_its_own_merchants_events_only() -> None:
    hub = LivePayments()
    ours, theirs = Wakes(), Wakes()
    mine = hub.subscribe("gimpo", "m-00000", ours)
    other = hub.subscribe("gimpo", "m-00001", theirs)
    elsewhere = hub.subscribe("yangju", "m-00000", Wakes())
    hub.publish("gimpo", [("m-00000", event(1)), ("m-00001", event(2)), ("m-00000", event(3))])
    assert [e.seq for e in mine.take(hub)] == [1, 3]
    assert [e.seq for e in other.take(hub)] == [2]
    assert elsewhere.take(hub) == []  # the same merchant id in another city
    assert ours.count == 1 and theirs.count == 1  # woken once per block, not per event
    assert mine.take(hub) == []  # taken once


def test_a_screen_that_falls_behind_is_dropped_and_the_others_keep_going() -> None:
    hub = LivePayments(queue_max=3)
    slow, fast = (
        hub.subscribe("gimpo", "m-00000", Wakes()),
        hub.subscribe("gimpo", "m-00000", Wakes()),
    )
    seen = []
    for seq in range(1, 6):
        hub.publish("gimpo", [("m-00000", event(seq))])
        seen += [e.seq for e in fast.take(hub)]
    assert slow.dropped and hub.dropped == 1
    assert [e.seq for e in slow.take(hub)] == [1, 2, 3]  # what it had, then nothing more
    assert seen == [1, 2, 3, 4, 5]
    assert hub.watching("gimpo", "m-00000") == 1


def test_a_reconnecting_screen_gets_the_recent_events_after_its_last() -> None:
    hub = LivePayments(recent=4)
    hub.publish("gimpo", [("m-00000", event(seq)) for seq in range(1, 8)])
    hub.publish("gimpo", [("m-00001", event(8))])
    again = hub.subscribe("gimpo", "m-00000", Wakes(), after=5)
    assert [e.seq for e in again.take(hub)] == [6, 7]
    fresh = hub.subscribe("gimpo", "m-00000", Wakes())
    assert fresh.take(hub) == []  # no resume point: from now on
    assert [e.seq for e in hub.recent("gimpo", "m-00000")] == [4, 5, 6, 7]  # bounded


def test_a_closed_screen_gets_nothing_and_a_broken_wake_harms_no_one() -> None:
    hub = LivePayments()

    def broken() -> None:
        raise RuntimeError("event loop is closed")

    gone = hub.subscribe("gimpo", "m-00000", Wakes())
    hub.unsubscribe(gone)
    failing = hub.subscribe("gimpo", "m-00000", broken)
    hub.publish("gimpo", [("m-00000", event(1))])  # does not raise
    assert gone.take(hub) == [] and gone.closed
    assert [e.seq for e in failing.take(hub)] == [1]


def test_a_merchant_has_a_bounded_number_of_screens() -> None:
    hub = LivePayments()
    for _ in range(SUBSCRIBERS_MAX):
        hub.subscribe("gimpo", "m-00000", Wakes())
    with pytest.raises(TooManyScreens):
        hub.subscribe("gimpo", "m-00000", Wakes())
    hub.subscribe("gimpo", "m-00001", Wakes())  # another merchant is not affected
