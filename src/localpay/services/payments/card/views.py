"""What the counter services return: typed, the same for the API, the pages and the CLI.
A card view never holds the number, except `IssuedCard.number`, shown once at issue."""

from __future__ import annotations

import msgspec


class CardView(msgspec.Struct, frozen=True):
    card: str  # the card id (64 hex), as the chain knows it
    wallet: str
    last4: str
    masked: str
    expiry: str  # YYMM
    status: str  # active | lost | blocked | replaced
    custodial: bool
    pin: bool  # whether a PIN is set
    pin_locked: bool
    bound: bool  # the chain has the card bound to the wallet
    issued_ms: int
    replaces: str = ""


class IssuedCard(msgspec.Struct, frozen=True):
    """A new card, with its number in full: the one time anyone sees it.

    `bind`: for a card of a wallet with its own key, the BindCard command (canonical JSON)
    the wallet must sign and submit; "" for a card-only wallet (the city bound it)."""

    view: CardView
    number: str
    bind: str = ""


class ProgramBalance(msgspec.Struct, frozen=True):
    program: str
    amount: int


class BalanceView(msgspec.Struct, frozen=True):
    wallet: str
    balance: int
    by_program: list[ProgramBalance]


class TopUpView(msgspec.Struct, frozen=True):
    wallet: str
    order: str  # the order's command id (its lots are <order> and <order>.d)
    paid: int  # won taken at the counter
    credited: int  # units credited: paid and the sale's discount
    balance: BalanceView


class TerminalView(msgspec.Struct, frozen=True):
    terminal: str
    city: str
    merchant: str
    added_ms: int
