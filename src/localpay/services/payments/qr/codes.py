"""The customer-presented one-time code (변동형 QR): its digits, their check and their hash.

The wallet makes 20 random digits (digits only, so every POS barcode scanner reads them as
Code 128 and a cashier can type them) and signs a PresentCode naming only the digits' hash
(`code_hash`), never the digits: the chain is public, and whoever knows the digits can claim
the code. The counter or POS sends the digits it scanned; the server hashes them here and
claims the hash. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from localpay.domain.errors import Refused

#: How many digits a code has: 20 random decimal digits are ~66 bits, far beyond guessing
#: within a code's 3 minutes, and still short enough to type from the screen.
DIGITS: Final = 20
#: What a code's hash is domain-separated by (docs/qr.md, "Customer-presented code").
HASH_PREFIX: Final = b"localpay/code/v1\n"
#: Spaces and dashes people type between the groups shown on the screen.
_SEPARATORS: Final = re.compile(r"[\s-]+")
_HASH: Final = re.compile(r"[0-9a-f]{64}")


class CodeMalformed(Refused):
    """What was scanned or typed is not a customer code; nothing is claimed."""

    code = "code_malformed"


def normalise(text: str) -> str:
    """The code's 20 digits from what a scanner or a person gave (spaces and dashes between
    groups allowed), or CodeMalformed saying what is wrong with it."""
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise CodeMalformed("no code was given: scan or type the customer's code")
    if not (digits.isascii() and digits.isdigit()):
        raise CodeMalformed(f"a customer code has only digits 0-9; {_shown(digits)} has others")
    if len(digits) != DIGITS:
        raise CodeMalformed(
            f"a customer code has {DIGITS} digits; {_shown(digits)} has {len(digits)}"
        )
    return digits


def _shown(text: str) -> str:
    """What was given, cut short for a message (a message never carries a whole code)."""
    return repr(text[:6] + "…") if len(text) > 6 else repr(text)


def code_hash(city: str, digits: str) -> str:
    """SHA-256 hex of HASH_PREFIX + city + "\\n" + digits: what PresentCode and ClaimCode
    carry. The city is inside so one code's hash means nothing in another city."""
    material = HASH_PREFIX + city.encode() + b"\n" + normalise(digits).encode()
    return hashlib.sha256(material).hexdigest()


def is_hash(text: str) -> bool:
    """A code's hash as the ledger keeps it (64 lowercase hex)."""
    return _HASH.fullmatch(text) is not None


def grouped(digits: str) -> str:
    """The digits in groups of four, as the wallet shows them for a cashier to type."""
    clean = normalise(digits)
    return " ".join(clean[i : i + 4] for i in range(0, DIGITS, 4))
