"""Who may see what of a transaction beyond its leaf: its sender, histories, balances.

The leaf (signed envelope and recorded result) is shown to every party of a
transaction and to the city's staff, so it states no balance. Kept beside it, never
in it: which histories list the transaction, and the balance after it of the account
that sent it. The *sender* is the first account the command names (its wallet, then
its merchant, then a gift's receiver: the acting account first) whose own key signed
it; a command signed only by officials or the operator has none.
See docs/transparency.md, "Balances and rejections".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

from localpay.domain import commands as c
from localpay.ledger.state import CityState

#: The fields naming accounts, the acting one first, with their entity prefix.
NAMING: Final = (("wallet", "w"), ("merchant", "m"), ("to", "w"))

#: An account's registered keys by entity key ("w:<id>", "m:<id>"), a wallet's bound card
#: keys among them; empty if unknown.
KeysOf = Callable[[str], Collection[str]]


def sender(command: c.Command, signers: Collection[str], keys_of: KeysOf) -> str | None:
    """The account that sent `command`: the first it names whose own key signed it.

    Account keys never change once registered (a card's key may be unbound, but the
    sequencer stores each transaction's parties, so only rows older than cards are ever
    derived again from the stored state), so the live state (sequencer) and the
    stored state (history catch-up) give the same answer for any recorded command."""
    fields = command.__struct_fields__
    for field, prefix in NAMING:
        if field in fields:
            account: str = getattr(command, field)
            registered = keys_of(f"{prefix}:{account}")
            if any(key in registered for key in signers):
                return account
    return None


def history_parties(parties: Sequence[str], sender: str | None, ok: bool) -> tuple[str, ...]:
    """The accounts whose histories list a transaction: all its parties if it was
    applied; a rejection only its sender's, so a refused command someone sends naming
    your wallet never shows in your history."""
    if ok:
        return tuple(parties)
    return (sender,) if sender is not None else ()


def state_keys(state: CityState) -> KeysOf:
    """Registered keys looked up in the in-memory state (the sequencer's)."""

    def keys_of(entity: str) -> Collection[str]:
        prefix, _, account = entity.partition(":")
        if prefix == "w":
            wallet = state.wallets.get(account)
            # A card's key acts for its wallet: the card host is the wallet's sender.
            return [*wallet.keys, *wallet.cards.values()] if wallet is not None else ()
        merchant = state.merchants.get(account)
        return merchant.keys if merchant is not None else ()

    return keys_of


def sender_balances(state: CityState, sender: str | None) -> tuple[tuple[str, int], ...]:
    """(sender, its balance now): what the sender's own receipt and history show."""
    if sender is None:
        return ()
    wallet = state.wallets.get(sender)
    if wallet is not None:
        return ((sender, wallet.balance()),)
    merchant = state.merchants.get(sender)
    return ((sender, merchant.balance),) if merchant is not None else ()
