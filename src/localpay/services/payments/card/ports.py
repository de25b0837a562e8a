"""What the card service needs from a store (adapters/sql/cards.py), as Protocols, and the
records it keeps there. Off the chain: the chain knows a card only by its id and its key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

Status = Literal["active", "lost", "blocked", "replaced"]
ACTIVE: Final = "active"
STATUSES: Final = ("active", "lost", "blocked", "replaced")


@dataclass(frozen=True)
class CardRecord:
    city: str
    card: str  # the card id: HMAC-SHA256 hex of the number (BindCard.card)
    wallet: str
    last4: str
    expiry: str  # YYMM
    status: str
    custodial: bool  # a card-only wallet, whose key the city holds
    sealed: bytes  # the number, sealed under the master key
    pin_hash: str  # "" when the card has no PIN
    pin_tries: int  # wrong PINs in a row
    idem_key: str
    issued_by: str  # the principal id of the official
    issued_ms: int
    changed_ms: int
    replaces: str  # the card id this one replaced, or ""

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> CardRecord:
        return cls(*row)

    def row(self) -> CardRow:
        return dataclasses.astuple(self)


@dataclass(frozen=True)
class TerminalRecord:
    terminal: str  # ISO 8583 field 41, unique across the installation
    city: str
    merchant: str
    added_by: str
    added_ms: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> TerminalRecord:
        return cls(*row)

    def row(self) -> TerminalRow:
        return dataclasses.astuple(self)


#: The rows the repository speaks (adapters import no services): the fields in order.
CardRow = tuple[str, str, str, str, str, str, bool, bytes, str, int, str, str, int, int, str]
TerminalRow = tuple[str, str, str, str, int]


class CardRepository(Protocol):
    def bin_of(self, city: str, bin_for: Callable[[int], str]) -> str:
        """The city's BIN, given out at first use (`bin_for` the next free index)."""
        ...

    def add_card(self, card: CardRow) -> CardRow:
        """Insert, or the card already recorded under (city, idem_key)."""
        ...

    def card(self, city: str, card: str) -> CardRow | None: ...

    def cards_of(self, city: str, wallet: str) -> list[CardRow]: ...

    def set_status(self, city: str, card: str, status: str, now_ms: int) -> None: ...

    def set_pin(self, city: str, card: str, pin_hash: str, now_ms: int) -> None:
        """A new PIN hash (or "" for none), the tries counter back to 0."""
        ...

    def wrong_pin(self, city: str, card: str) -> int:
        """One more wrong try; the count after it."""
        ...

    def right_pin(self, city: str, card: str) -> None:
        """The tries counter back to 0 (only wrong tries *in a row* count)."""
        ...

    def add_terminal(self, terminal: TerminalRow) -> TerminalRow:
        """Insert, or the terminal already recorded under that id (maybe another's)."""
        ...

    def terminal(self, terminal: str) -> TerminalRow | None: ...

    def terminals(self, city: str, merchant: str | None) -> list[TerminalRow]: ...

    def remove_terminal(self, city: str, terminal: str) -> bool: ...

    def add_approval(self, city: str, terminal: str, auth_code: str, hold: str) -> None: ...

    def approval(self, city: str, terminal: str, auth_code: str) -> str | None:
        """The hold id an approval code of this terminal was given for."""
        ...


class Sealer(Protocol):
    """The master key as the service uses it (adapters/secrets.Sealer)."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...
