"""Whether a visitor may see a sale's buy form now, or must wait in its waiting room.

The one question the buy page (routes/wallet_buy.py) asks the waiting room
(services/waiting): with no sale opening scheduled for the program, everyone may buy;
with one, only the holder of an admitted ticket (the cookie `localpay_queue_<program>`,
set when they joined the line), whose use of the page keeps their admission alive.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from fastapi import Request

from localpay.entrypoints.web.deps import container

#: The cookie holding a visitor's ticket for one program's line.
COOKIE_PREFIX: Final = "localpay_queue_"


def cookie_name(program: str) -> str:
    return COOKIE_PREFIX + program


def ticket_of(request: Request, program: str) -> str | None:
    """The visitor's ticket for `program`'s line (what the buy page passes on to the
    sales API as the X-Queue-Ticket header), or None."""
    return request.cookies.get(cookie_name(program))


def queue_url(city: str, program: str) -> str:
    return f"/c/{city}/wallet/buy/queue?program={quote(program)}"


def admission(request: Request, city: str, program: str) -> str | None:
    """None if the visitor may see the buy form now; else the waiting room's URL."""
    room = container(request).waiting
    if room.admitted(city, program, ticket_of(request, program)):
        return None
    return queue_url(city, program)
