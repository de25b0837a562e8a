"""Card numbers: 16 digits, the city's 6-digit BIN, 9 random digits and the Luhn check
digit (ISO/IEC 7812-1). A number is never stored in clear: the store keeps its card id
(HMAC-SHA256 under the city's card secret: what the chain knows as `BindCard.card`), the
number sealed under the master key, and its last four digits for display.

BINs: "941" (a range no card network issues from, so a demo card is never mistaken for a
real one) followed by the city's three-digit index, given out in order of first use
(gimpo "941001", yangju "941002"); the adapter keeps the assignment (table card_bins)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Final

from localpay.domain.calendar import KST

BIN_PREFIX: Final = "941"
NUMBER_LENGTH: Final = 16
#: A card is valid until the end of the month five years after it was issued.
VALID_YEARS: Final = 5
_ID_PREFIX: Final = b"localpay/card-id/v1\n"


def bin_of(index: int) -> str:
    """The 6-digit BIN of the city with this index (1..999)."""
    if not 1 <= index <= 999:
        raise ValueError(f"a city's BIN index is 1 to 999, not {index}")
    return f"{BIN_PREFIX}{index:03d}"


def luhn_digit(body: str) -> str:
    """The check digit that makes `body` + digit pass the Luhn test."""
    total = 0
    # From the right, every second digit of the body (the first one) is doubled.
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return len(number) > 1 and number.isdigit() and luhn_digit(number[:-1]) == number[-1]


def in_range(number: str, bin6: str) -> bool:
    """A well-formed card number of this BIN."""
    return (
        len(number) == NUMBER_LENGTH
        and number.isascii()
        and number.startswith(bin6)
        and luhn_valid(number)
    )


def new_number(bin6: str) -> str:
    body = bin6 + "".join(secrets.choice("0123456789") for _ in range(NUMBER_LENGTH - 7))
    return body + luhn_digit(body)


def card_id(secret: bytes, number: str) -> str:
    """The card's pseudonymous id (64 hex): the chain and the tables know only this."""
    return hmac.new(_ID_PREFIX + secret, number.encode(), hashlib.sha256).hexdigest()


def expiry_of(issued_ms: int) -> str:
    """YYMM, five years on from the month of issue (KST)."""
    issued = dt.datetime.fromtimestamp(issued_ms / 1000, KST)
    return f"{(issued.year + VALID_YEARS) % 100:02d}{issued.month:02d}"


def expired(expiry: str, now_ms: int) -> bool:
    """Past the end of the expiry month (KST). YYMM is read as 20YY."""
    now = dt.datetime.fromtimestamp(now_ms / 1000, KST)
    return (now.year % 100, now.month) > (int(expiry[:2]), int(expiry[2:]))


def masked(last4: str) -> str:
    return f"**** **** **** {last4}"


def grouped(number: str) -> str:
    """Shown once, at issue: "9410 0112 3456 7893"."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
