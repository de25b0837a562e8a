"""The Korean business registration number (사업자등록번호): its form and check digit.

Ten digits, written `123-45-67890`. The tenth is a check digit: the first nine are
weighted 1,3,7,1,3,7,1,3,5 and summed, plus ⌊5·d9/10⌋ (d9 the ninth digit); the check
is (10 − S mod 10) mod 10. A valid check digit means the number is *well-formed*, not
that the National Tax Service registered it: only the tax office's register says that,
and an official checks the certificate before approving a merchant.
"""

from __future__ import annotations

from typing import Final

from localpay.domain.errors import Refused

DIGITS: Final = 10
WEIGHTS: Final = (1, 3, 7, 1, 3, 7, 1, 3, 5)
#: What a person may type between the digit groups.
SEPARATORS: Final = frozenset("- ")


class BadBrn(Refused):
    """Not a well-formed business registration number; the message says what is wrong."""

    code = "invalid_brn"


def check_digit(first_nine: str) -> int:
    """The check digit of the first nine digits."""
    digits = [int(d) for d in first_nine]
    total = sum(d * w for d, w in zip(digits, WEIGHTS, strict=True)) + (5 * digits[8]) // 10
    return (10 - total % 10) % 10


def normalise(text: str) -> str:
    """The ten digits of a number typed with or without hyphens and spaces; BadBrn with
    the precise reason (a wrong character, the wrong count, a wrong check digit)."""
    stripped = text.strip()
    if not stripped:
        raise BadBrn("the business registration number is empty")
    for ch in stripped:
        if ch not in SEPARATORS and not ("0" <= ch <= "9"):
            raise BadBrn(f"{ch!r} is not allowed: only digits and hyphens (123-45-67890)")
    digits = "".join(ch for ch in stripped if ch not in SEPARATORS)
    if len(digits) != DIGITS:
        raise BadBrn(f"a business registration number has 10 digits, not {len(digits)}")
    expected = check_digit(digits[:9])
    if int(digits[9]) != expected:
        raise BadBrn(f"the last digit (check digit) should be {expected}, not {digits[9]}")
    return digits


def formatted(digits: str) -> str:
    """`1234567890` -> `123-45-67890`."""
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def is_valid(text: str) -> bool:
    try:
        normalise(text)
    except BadBrn:
        return False
    return True
