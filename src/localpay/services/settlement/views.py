"""How a payout account is shown to people: never in full (the number and the holder's
name are personal data), the same way on every page, answer and command line."""

from __future__ import annotations

from localpay.services.registry.accounts import BANKS, BankAccount
from localpay.services.registry.accounts import masked as registry_masked
from localpay.services.settlement.ports import Party


def mask_number(number: str) -> str:
    """All but the last four digits hidden: `*********6789`."""
    digits = number.replace("-", "")
    return "*" * max(0, len(digits) - 4) + digits[-4:]


def mask_name(name: str) -> str:
    """The first and last characters kept: `김*나`; a two-letter name `김*`."""
    if len(name) <= 2:
        return name[:1] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def bank_name(code: str, lang: str = "ko") -> str:
    """The bank's name people know (`신한`), or its code when it is not on the list."""
    names = BANKS.get(code)
    return code if names is None else names[0] if lang == "ko" else names[1]


def masked(party: Party, lang: str = "ko") -> str:
    """`신한 · *********6789 · 김*나`."""
    return f"{bank_name(party.bank, lang)} · {mask_number(party.account)} · {mask_name(party.name)}"


def account_shown(party: Party, lang: str = "ko") -> str:
    """`신한 ****-**-**6789`: the bank and the number as the registry shows a shop's
    application account (the citizen's pages and the card counter show it so)."""
    return registry_masked(BankAccount(party.bank, party.account, party.name), lang)
