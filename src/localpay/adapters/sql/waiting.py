"""The waiting room's openings and tickets (services/waiting/ports.py) in waiting_* tables.

An opening's salt (the key its tickets are derived under) is a secret: it is sealed
under the master key at rest, like the TOTP secrets (adapters/sql/identity.py).
"""

from __future__ import annotations

import secrets
from typing import Final

from localpay.adapters.secrets import Sealer
from localpay.adapters.sql.runner import Row, SqlRunner, Statement

#: The shapes of services/waiting/ports.py (adapters import no services).
OpeningRow = tuple[str, str, int, int, int, bool, int, int, int, int, bytes]
TicketRow = tuple[str, str, str, int, int, int | None, int | None]

_OPENING_COLUMNS: Final = (
    "city, program, opens_ms, rate, window_ms, paused, issued, head, tokens_milli, clock_ms, salt"
)
_OPENING: Final = f"SELECT {_OPENING_COLUMNS} FROM waiting_openings WHERE city = ? AND program = ?"
_OPENINGS: Final = (
    f"SELECT {_OPENING_COLUMNS} FROM waiting_openings WHERE city = ? ORDER BY program"
)
_CREATE: Final = (
    "INSERT INTO waiting_openings (city, program, opens_ms, rate, window_ms, clock_ms, salt,"
    " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (city, program) DO UPDATE SET"
    " opens_ms = excluded.opens_ms, rate = excluded.rate, window_ms = excluded.window_ms,"
    " updated_ms = excluded.updated_ms"
)
_PAUSE: Final = (
    "UPDATE waiting_openings SET paused = ?, clock_ms = ?, updated_ms = ?"
    " WHERE city = ? AND program = ? RETURNING city"
)
# The next n places in line and the tickets holding them, in one transaction: the
# UPDATE's row lock orders concurrent groups, and each INSERT reads the numbers it took
# (issued - offset). A hash already in line keeps its place (DO NOTHING; its number is
# left unused, a gap the bucket passes over in 1/rate s).
_TAKE_NUMBERS: Final = (
    "UPDATE waiting_openings SET issued = issued + ? WHERE city = ? AND program = ?"
)
_INSERT_TICKET: Final = (
    "INSERT INTO waiting_tickets (ticket_hash, city, program, seq, joined_ms)"
    " SELECT ?, city, program, issued - ?, ? FROM waiting_openings WHERE city = ? AND program = ?"
    " ON CONFLICT (ticket_hash) DO NOTHING"
)
_TICKET_COLUMNS: Final = "ticket_hash, city, program, seq, joined_ms, admitted_ms, active_ms"
_TICKET: Final = f"SELECT {_TICKET_COLUMNS} FROM waiting_tickets WHERE ticket_hash = ?"
_TICKETS: Final = f"SELECT {_TICKET_COLUMNS} FROM waiting_tickets WHERE ticket_hash IN "
_READ_CHUNK: Final = 500
# Moved only if nobody moved it since it was read (head and clock as read).
_ADVANCE: Final = (
    "UPDATE waiting_openings SET head = ?, tokens_milli = ?, clock_ms = ?, updated_ms = ?"
    " WHERE city = ? AND program = ? AND head = ? AND clock_ms = ? RETURNING city"
)
_ADMIT: Final = (
    "UPDATE waiting_tickets SET admitted_ms = ? WHERE city = ? AND program = ?"
    " AND seq > ? AND seq <= ? AND admitted_ms IS NULL AND EXISTS (SELECT 1 FROM"
    " waiting_openings WHERE city = ? AND program = ? AND head = ? AND clock_ms = ?)"
)
_TOUCH: Final = "UPDATE waiting_tickets SET active_ms = ? WHERE ticket_hash = ?"


def _context(city: str, program: str) -> bytes:
    return f"localpay/waiting-salt/{city}/{program}".encode()


class SqlWaitingRepository:
    def __init__(self, store: SqlRunner, master: Sealer) -> None:
        self.store, self.master = store, master

    def _opening(self, row: Row) -> OpeningRow:
        city, program, opens, rate, window, paused, issued, head, tokens, clock, salt = row
        opened = self.master.open(bytes(salt), _context(str(city), str(program)))
        return (
            str(city),
            str(program),
            int(opens),
            int(rate),
            int(window),
            bool(paused),
            int(issued),
            int(head),
            int(tokens),
            int(clock),
            opened,
        )

    def opening(self, city: str, program: str) -> OpeningRow | None:
        rows = self.store.sql(_OPENING, (city, program))
        return self._opening(rows[0]) if rows else None

    def openings(self, city: str) -> list[OpeningRow]:
        return [self._opening(row) for row in self.store.sql(_OPENINGS, (city,))]

    def schedule(
        self, city: str, program: str, opens_ms: int, rate: int, window_ms: int, now_ms: int
    ) -> None:
        salt = self.master.seal(secrets.token_bytes(32), _context(city, program))
        params = (city, program, opens_ms, rate, window_ms, now_ms, salt, now_ms)
        self.store.sql(_CREATE, params)

    def set_paused(self, city: str, program: str, paused: bool, now_ms: int) -> bool:
        return bool(self.store.sql(_PAUSE, (int(paused), now_ms, now_ms, city, program)))

    def join_many(
        self, city: str, program: str, ticket_hashes: list[str], now_ms: int
    ) -> list[TicketRow]:
        n, where = len(ticket_hashes), (city, program)
        statements: list[Statement] = [(_TAKE_NUMBERS, (n, *where))]
        for i, digest in enumerate(ticket_hashes):
            statements.append((_INSERT_TICKET, (digest, n - 1 - i, now_ms, *where)))
        self.store.sql_batch(statements)
        found: dict[str, TicketRow] = {}
        for start in range(0, n, _READ_CHUNK):
            chunk = ticket_hashes[start : start + _READ_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self.store.sql(f"{_TICKETS}({marks})", tuple(chunk)):
                found[str(row[0])] = _ticket(row)
        return [found[digest] for digest in ticket_hashes]

    def ticket(self, ticket_hash: str) -> TicketRow | None:
        rows = self.store.sql(_TICKET, (ticket_hash,))
        return _ticket(rows[0]) if rows else None

    def advance(
        self,
        city: str,
        program: str,
        was: tuple[int, int],
        head: int,
        tokens_milli: int,
        clock_ms: int,
    ) -> bool:
        where = (city, program)
        moved, _ = self.store.sql_batch(
            [
                (_ADVANCE, (head, tokens_milli, clock_ms, clock_ms, *where, *was)),
                # runs only where the opening is as just moved: nobody admitted otherwise
                (_ADMIT, (clock_ms, *where, was[0], head, *where, head, clock_ms)),
            ]
        )
        return bool(moved)

    def touch(self, ticket_hash: str, active_ms: int) -> None:
        self.store.sql(_TOUCH, (active_ms, ticket_hash))


def _ticket(row: Row) -> TicketRow:
    digest, city, program, seq, joined, admitted, active = row
    return (
        str(digest),
        str(city),
        str(program),
        int(seq),
        int(joined),
        None if admitted is None else int(admitted),
        None if active is None else int(active),
    )
