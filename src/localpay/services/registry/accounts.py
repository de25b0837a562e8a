"""A merchant's bank account for settlement: checked, and only ever shown masked.

The account is personal-adjacent data (it names the holder) and never goes on the chain;
the registry keeps it sealed under the master key and shows `국민 ****-**-**1234`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import msgspec

from localpay.domain.errors import Refused

#: Bank codes (금융결제원 표준 은행 코드) of the banks a Gimpo shop commonly uses.
BANKS: Final = {
    "002": ("산업", "KDB"),
    "003": ("기업", "IBK"),
    "004": ("국민", "KB Kookmin"),
    "007": ("수협", "Suhyup"),
    "011": ("농협", "NongHyup"),
    "020": ("우리", "Woori"),
    "023": ("SC제일", "SC First"),
    "027": ("씨티", "Citi"),
    "031": ("대구", "iM Bank"),
    "032": ("부산", "Busan"),
    "045": ("새마을금고", "MG Saemaul"),
    "048": ("신협", "Shinhyup"),
    "071": ("우체국", "Korea Post"),
    "081": ("하나", "Hana"),
    "088": ("신한", "Shinhan"),
    "089": ("케이뱅크", "K Bank"),
    "090": ("카카오뱅크", "KakaoBank"),
    "092": ("토스뱅크", "Toss Bank"),
}
NUMBER: Final = re.compile(r"^[0-9]+(-[0-9]+)*$")
DIGITS_MIN: Final = 10
DIGITS_MAX: Final = 16
HOLDER_MAX: Final = 30
SHOWN_DIGITS: Final = 4


class BadAccount(Refused):
    """A bank account the registry does not accept; the message says which part."""

    code = "invalid_account"


class BankAccount(msgspec.Struct, frozen=True):
    bank: str
    number: str
    holder: str


def checked(bank: str, number: str, holder: str) -> BankAccount:
    bank, number = bank.strip(), number.strip().replace(" ", "")
    holder = unicodedata.normalize("NFC", holder.strip())
    if bank not in BANKS:
        raise BadAccount("choose the bank from the list")
    digits = number.replace("-", "")
    if not NUMBER.fullmatch(number) or not DIGITS_MIN <= len(digits) <= DIGITS_MAX:
        raise BadAccount(
            f"an account number is {DIGITS_MIN} to {DIGITS_MAX} digits, hyphens allowed"
        )
    if (
        not holder
        or len(holder) > HOLDER_MAX
        or any(unicodedata.category(ch)[0] == "C" for ch in holder)
    ):
        raise BadAccount(f"the account holder's name is 1 to {HOLDER_MAX} printable characters")
    return BankAccount(bank, number, holder)


def masked(account: BankAccount, lang: str = "ko") -> str:
    """`국민 ****-**-**1234`: the bank's name and the number with all but its last four
    digits hidden (the hyphens stay, so the owner recognises the shape)."""
    keep = len(account.number.replace("-", "")) - SHOWN_DIGITS
    shown = []
    for ch in account.number:
        if ch == "-":
            shown.append(ch)
        else:
            shown.append("*" if keep > 0 else ch)
            keep -= 1
    ko, en = BANKS.get(account.bank, (account.bank, account.bank))
    return f"{ko if lang == 'ko' else en} {''.join(shown)}"
