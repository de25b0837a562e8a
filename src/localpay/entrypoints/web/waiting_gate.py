"""Whether a visitor may see a sale's buy form now, or must wait in its waiting room.

The one question the buy page (routes/wallet_buy.py) asks the waiting room
(services/waiting): with no sale opening scheduled for the program, everyone may buy.
"""

from __future__ import annotations

from fastapi import Request


def admission(request: Request, city: str, program: str) -> str | None:
    """None if the visitor may see the buy form now; else the waiting room's URL."""
    return None
