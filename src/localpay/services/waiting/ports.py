"""What the waiting room keeps: sale openings and their tickets (adapters/sql/waiting.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: An opening as the store gives it (adapters may not import services: plain tuples):
#: city, program, opens_ms, rate, window_ms, paused, issued, head, tokens_milli, clock_ms,
#: salt.
OpeningRow = tuple[str, str, int, int, int, bool, int, int, int, int, bytes]
#: ticket_hash, city, program, seq, joined_ms, admitted_ms, active_ms.
TicketRow = tuple[str, str, str, int, int, int | None, int | None]


@dataclass(frozen=True)
class Opening:
    """A sale opening of one program in one city, as stored.

    `rate` = people admitted per second; `window_ms` = how long an admitted person may
    take to order (counted from admission or their last action, whichever is later).
    `issued` is the last place in line handed out, `head` the last place admitted; the
    pacing bucket held `tokens_milli` thousandths of a person at `clock_ms`."""

    city: str
    program: str
    opens_ms: int
    rate: int
    window_ms: int
    paused: bool
    issued: int
    head: int
    tokens_milli: int
    clock_ms: int
    salt: bytes

    @classmethod
    def of(cls, row: OpeningRow) -> Opening:
        return cls(*row)

    @property
    def waiting(self) -> int:
        """People in line not admitted yet."""
        return self.issued - self.head


@dataclass(frozen=True)
class Ticket:
    """A place in line: `seq` in arrival order (1 = the first to arrive)."""

    ticket_hash: str
    city: str
    program: str
    seq: int
    joined_ms: int
    admitted_ms: int | None
    active_ms: int | None

    @classmethod
    def of(cls, row: TicketRow) -> Ticket:
        return cls(*row)


class WaitingRepository(Protocol):
    def opening(self, city: str, program: str) -> OpeningRow | None: ...

    def openings(self, city: str) -> list[OpeningRow]: ...

    def schedule(
        self, city: str, program: str, opens_ms: int, rate: int, window_ms: int, now_ms: int
    ) -> None:
        """Create the opening, or change when it opens, its rate and window (the line and
        its places stay as they are)."""
        ...

    def set_paused(self, city: str, program: str, paused: bool, now_ms: int) -> bool:
        """False if there is no such opening."""
        ...

    def join_many(
        self, city: str, program: str, ticket_hashes: list[str], now_ms: int
    ) -> list[TicketRow]:
        """The tickets of these (distinct) hashes, each new one with the next place in
        line in the order given: one transaction takes the numbers and records them."""
        ...

    def ticket(self, ticket_hash: str) -> TicketRow | None: ...

    def advance(
        self,
        city: str,
        program: str,
        was: tuple[int, int],
        head: int,
        tokens_milli: int,
        clock_ms: int,
    ) -> bool:
        """Move the bucket and admit the places after the old head up to `head` at
        clock_ms, in one transaction, if the opening's (head, clock_ms) is still `was`
        (else False: someone else moved it)."""
        ...

    def touch(self, ticket_hash: str, active_ms: int) -> None:
        """An admitted person acted at active_ms: their window runs from then."""
        ...
