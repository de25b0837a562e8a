"""The fair waiting room of a sale opening.

Fairness: strictly first come, first served. Every arrival takes the next number of the
opening's sequence in the store (one transaction), before or after the opening alike,
and people are admitted in that order. A place, once shown, never changes (randomising
early arrivals at the opening would move places people were already told, and their
estimates with them); nobody is ever dropped from the line for waiting.

Pacing: admissions follow a token bucket (pacing.py) at the opening's rate, moved at
most every `tick_ms` by whoever asks, and persisted with the admitted places in one
transaction: after a restart a new WaitingRoom over the same store goes on from the
same head, the same tickets and the same admission times.

The ticket is the only state of a person in line: a random-looking string (an HMAC of
the client's idempotency key under the opening's secret salt, so a repeated join gives
the same ticket), stored as its SHA-256 only. It touches no session and no wallet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.services.waiting import pacing
from localpay.services.waiting.arrivals import GroupCommit
from localpay.services.waiting.budget import Budget, BudgetReader, no_budget
from localpay.services.waiting.ports import Opening, Ticket, WaitingRepository

#: 50 people a second: each buyer sends about two commands (order, then the bank's
#: deposit confirmation), and the ledger over HTTP takes ~1,200 commands/s on this
#: 2-core machine (bench/results.json): admissions use under a tenth of it, leaving the
#: rest for payments at shops during the rush.
DEFAULT_RATE: Final = 50
MAX_RATE: Final = 10_000
#: How long an admitted person may take to order, extended while they act.
DEFAULT_WINDOW_MINUTES: Final = 10
MAX_WINDOW_MINUTES: Final = 120
#: The line is moved (and its opening re-read from the store) at most this often.
TICK_MS: Final = 200
#: An admitted person's activity is written at most this often.
TOUCH_MS: Final = 30_000
#: The admission rate is measured over this long (a shorter record uses the set rate).
MEASURE_MS: Final = 30_000
MEASURE_MIN_MS: Final = 3_000
PROGRAM: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KEY: Final = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
TICKET: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TICKET_CACHE_MAX: Final = 200_000

WAITING, ADMITTED, EXPIRED, ENDED = "waiting", "admitted", "expired", "ended"


class BadOpening(Refused):
    code = "validation_failed"


class NoOpening(NotFound):
    code = "not_found"


class UnknownTicket(NotFound):
    """A ticket of another opening, or none: not this line's (never says which)."""

    code = "not_found"


class SaleEnded(Conflict):
    code = "conflict"


@dataclass(frozen=True)
class Status:
    """Where a ticket stands now, as shown to its holder."""

    state: str
    program: str
    position: int  # 1 = next to be admitted; 0 once admitted
    ahead: int
    estimate_s: int | None  # None while paused
    opens_ms: int
    paused: bool
    admitted_until_ms: int | None
    budget_left: int | None
    budget_used_up: bool
    when_budget_out: str | None


@dataclass(frozen=True)
class Joined:
    ticket: str
    status: Status


@dataclass(frozen=True)
class LineView:
    """An opening as officials see it."""

    opening: Opening
    measured_rate: float | None
    budget: Budget | None


@dataclass
class _Line:
    opening: Opening
    read_ms: int
    # (ms, head) at each admission, for the measured rate
    samples: deque[tuple[int, int]] = field(default_factory=deque)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _ticket_of(salt: bytes, city: str, program: str, key: str) -> str:
    mac = hmac.new(salt, f"{city}\n{program}\n{key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class WaitingRoom:
    def __init__(
        self,
        repo: WaitingRepository,
        clock: Callable[[], int],
        budget: BudgetReader = no_budget,
        tick_ms: int = TICK_MS,
    ) -> None:
        self.repo, self.clock, self.budget, self.tick_ms = repo, clock, budget, tick_ms
        self._lock = threading.Lock()
        self._lines: dict[tuple[str, str], _Line] = {}
        self._tickets: dict[str, Ticket] = {}
        self._arrivals: dict[tuple[str, str], GroupCommit[str, Ticket]] = {}
        self._absent: dict[tuple[str, str], int] = {}  # (city, program) -> when read absent

    # -- officials -------------------------------------------------------------------------

    def schedule(
        self,
        city: str,
        program: str,
        opens_ms: int,
        rate: int = DEFAULT_RATE,
        window_minutes: int = DEFAULT_WINDOW_MINUTES,
    ) -> Opening:
        """Schedule the opening (or change it: the line keeps its places)."""
        if not PROGRAM.fullmatch(program):
            raise BadOpening(f"program {program!r} is not a program id")
        if not 1 <= rate <= MAX_RATE:
            raise BadOpening(f"the rate must be 1 to {MAX_RATE} people a second, not {rate}")
        if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
            raise BadOpening(f"the admission window must be 1 to {MAX_WINDOW_MINUTES} minutes")
        if opens_ms < 0:
            raise BadOpening("the opening time must be after 1970")
        with self._lock:
            self.repo.schedule(city, program, opens_ms, rate, window_minutes * 60_000, self.clock())
            self._lines.pop((city, program), None)
            self._absent.pop((city, program), None)
            line = self._line(city, program, self.clock())
        assert line is not None
        return line.opening

    def set_paused(self, city: str, program: str, paused: bool) -> Opening:
        now = self.clock()
        with self._lock:
            # admit whom the bucket owes up to now first: a pause takes nothing back
            self._lines.pop((city, program), None)
            self._line(city, program, now)
            if not self.repo.set_paused(city, program, paused, now):
                raise NoOpening(f"no sale opening for {program!r}")
            self._lines.pop((city, program), None)
            line = self._line(city, program, now)
        assert line is not None
        return line.opening

    def view(self, city: str, program: str) -> LineView | None:
        now = self.clock()
        with self._lock:
            line = self._line(city, program, now)
            if line is None:
                return None
            opening, measured = line.opening, self._measured(line, now)
        return LineView(opening, measured, self.budget(city, program))

    def views(self, city: str) -> list[LineView]:
        found = [self.view(city, Opening.of(row).program) for row in self.repo.openings(city)]
        return [v for v in found if v is not None]

    # -- people in line --------------------------------------------------------------------

    def gated(self, city: str, program: str) -> bool:
        """Whether buying this program goes through a waiting room at all."""
        with self._lock:
            return self._line(city, program, self.clock()) is not None

    def join(self, city: str, program: str, key: str) -> Joined:
        """A place in line for the holder of idempotency `key`: the same key, the same
        ticket and place. Refused once the sale has ended."""
        if not KEY.fullmatch(key):
            raise BadOpening("the idempotency key must be 16 to 100 letters, digits, - or _")
        budget = self.budget(city, program)
        now = self.clock()
        with self._lock:
            line = self._line(city, program, now)
            if line is None:
                raise NoOpening(f"no sale opening for {program!r}")
            ticket = _ticket_of(line.opening.salt, city, program, key)
            digest = ticket_hash(ticket)
            found = self._tickets.get(digest)
            arrivals = self._arrivals_of(city, program)
        # outside the room's lock: reads and group commits run beside status reads
        found = found or self._stored(digest)
        if found is None and budget is not None and budget.ended:
            raise SaleEnded("the sale has ended: the discount budget is used up")
        if found is None:
            found = arrivals.add(digest)
        with self._lock:
            line = self._line(city, program, now) or line
            line.opening = replace(line.opening, issued=max(line.opening.issued, found.seq))
            self._remember(found)
            status = self._status(line, found, now, budget)
        return Joined(ticket, status)

    def _arrivals_of(self, city: str, program: str) -> GroupCommit[str, Ticket]:
        found = self._arrivals.get((city, program))
        if found is None:

            def flush(digests: Sequence[str]) -> list[Ticket]:
                distinct = list(dict.fromkeys(digests))  # one place for a double click
                rows = self.repo.join_many(city, program, distinct, self.clock())
                by_hash = {row[0]: Ticket.of(row) for row in rows}
                return [by_hash[d] for d in digests]

            found = self._arrivals[(city, program)] = GroupCommit(flush)
        return found

    def status(self, city: str, program: str, ticket: str | None) -> Status:
        budget = self.budget(city, program)
        now = self.clock()
        with self._lock:
            line = self._line(city, program, now)
            if line is None:
                raise NoOpening(f"no sale opening for {program!r}")
            return self._status(line, self._held(city, program, ticket), now, budget)

    def admitted(self, city: str, program: str, ticket: str | None) -> bool:
        """May the holder of `ticket` order now? Always, where no opening is scheduled.
        An admitted person's use of it extends their window (they are active)."""
        budget = self.budget(city, program)
        now = self.clock()
        with self._lock:
            line = self._line(city, program, now)
            if line is None:
                return True
            try:
                held = self._held(city, program, ticket)
            except UnknownTicket:
                return False
            if self._status(line, held, now, budget).state != ADMITTED:
                return False
            if held.active_ms is None or now - held.active_ms >= TOUCH_MS:
                self.repo.touch(held.ticket_hash, now)
                self._remember(replace(held, active_ms=now))
        return True

    # -- inside (under the lock) -----------------------------------------------------------

    def _line(self, city: str, program: str, now: int) -> _Line | None:
        line = self._lines.get((city, program))
        if line is not None and now - line.read_ms < self.tick_ms:
            return line
        if (
            line is None
            and now - self._absent.get((city, program), now - self.tick_ms) < self.tick_ms
        ):
            return None  # no opening, read under a tick ago: orders ask on every request
        row = self.repo.opening(city, program)
        if row is None:
            self._lines.pop((city, program), None)
            self._absent[(city, program)] = now
            return None
        self._absent.pop((city, program), None)
        opening = Opening.of(row)
        if line is None:
            line = self._lines[(city, program)] = _Line(opening, now)
        line.opening, line.read_ms = opening, now
        self._pace(line, now)
        return line

    def _pace(self, line: _Line, now: int) -> None:
        o = line.opening
        s = pacing.step(o.opens_ms, o.rate, o.paused, o.waiting, o.tokens_milli, o.clock_ms, now)
        if s.admit == 0:
            return  # nothing to record: the stored bucket gives the same answer later
        head = o.head + s.admit
        was = (o.head, o.clock_ms)
        if not self.repo.advance(o.city, o.program, was, head, s.tokens_milli, s.clock_ms):
            line.read_ms = now - self.tick_ms  # moved elsewhere: the next tick re-reads it
            return
        moved = line.opening = replace(
            o, head=head, tokens_milli=s.tokens_milli, clock_ms=s.clock_ms
        )
        line.samples.append((now, moved.head))
        while line.samples and now - line.samples[0][0] > MEASURE_MS:
            line.samples.popleft()

    def _measured(self, line: _Line, now: int) -> float | None:
        """People admitted per second over the last MEASURE_MS, or None if too short."""
        if not line.samples:
            return None
        first_ms, first_head = line.samples[0]
        last_ms, last_head = line.samples[-1]
        if last_ms - first_ms < MEASURE_MIN_MS:
            return None
        return (last_head - first_head) * 1000 / (last_ms - first_ms)

    def _held(self, city: str, program: str, ticket: str | None) -> Ticket:
        if ticket is None or not TICKET.fullmatch(ticket):
            raise UnknownTicket("no such ticket in this line")
        digest = ticket_hash(ticket)
        found = self._tickets.get(digest) or self._stored(digest)
        if found is None or found.city != city or found.program != program:
            raise UnknownTicket("no such ticket in this line")
        return self._remember(found)

    def _stored(self, digest: str) -> Ticket | None:
        row = self.repo.ticket(digest)
        return Ticket.of(row) if row is not None else None

    def _remember(self, ticket: Ticket) -> Ticket:
        if len(self._tickets) >= _TICKET_CACHE_MAX:
            self._tickets.clear()
        self._tickets[ticket.ticket_hash] = ticket
        return ticket

    def _status(self, line: _Line, ticket: Ticket, now: int, budget: Budget | None) -> Status:
        o = line.opening
        if ticket.seq <= o.head and ticket.admitted_ms is None:
            # admitted since it was cached: the store has the admission's time
            ticket = self._remember(self._stored(ticket.ticket_hash) or ticket)
        until = None
        if ticket.admitted_ms is not None:
            until = max(ticket.admitted_ms, ticket.active_ms or 0) + o.window_ms
        position = max(0, ticket.seq - o.head)
        if budget is not None and budget.ended:
            state = ENDED
        elif until is None:
            state = WAITING
        else:
            state = ADMITTED if now < until else EXPIRED
        return Status(
            state=state,
            program=o.program,
            position=position,
            ahead=max(0, position - 1),
            estimate_s=self._estimate(line, position, now),
            opens_ms=o.opens_ms,
            paused=o.paused,
            admitted_until_ms=until,
            budget_left=budget.left if budget else None,
            budget_used_up=bool(budget and budget.used_up),
            when_budget_out=budget.when_out if budget else None,
        )

    def _estimate(self, line: _Line, position: int, now: int) -> int | None:
        """Seconds until admission: the time to the opening, then one's place over the
        admission rate (the measured one where it is slower than the set one)."""
        o = line.opening
        if o.paused:
            return None
        if position == 0:
            return 0
        measured = self._measured(line, now)
        rate = min(o.rate, measured) if measured else o.rate
        if rate <= 0:
            return None
        to_open = max(0, o.opens_ms - now) / 1000
        return math.ceil(to_open + position / rate)
