"""Card PINs: 4 to 6 digits, kept only as an argon2id hash; five wrong tries in a row lock
the card's PIN (the terminal answers 75) until an official resets it at the counter.

Field 52 arrives as an ISO 9564-1 format-0 PIN block in clear in this version: the PIN
field (0, the length, the digits, F padding) XOR the PAN field (0000 and the 12 rightmost
digits of the card number without its check digit). A real deployment receives it
encrypted under the zone PIN key and decrypts it (or verifies it) inside an HSM; this host
has no HSM, and the terminals of the demo send it in clear."""

from __future__ import annotations

from typing import Final

import argon2

#: Wrong tries in a row that lock the PIN.
MAX_TRIES: Final = 5
PIN_LENGTHS: Final = range(4, 7)


def valid_pin(pin: str) -> bool:
    return pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS


def hash_pin(hasher: argon2.PasswordHasher, pin: str) -> str:
    return hasher.hash(pin)


def pin_matches(hasher: argon2.PasswordHasher, pin_hash: str, pin: str) -> bool:
    try:
        return hasher.verify(pin_hash, pin)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def _pan_field(pan: str) -> int:
    return int("0000" + pan[:-1][-12:].rjust(12, "0"), 16)


def pin_block(pin: str, pan: str) -> str:
    """The format-0 block of `pin` for card `pan` (16 upper-case hex): what a terminal sends."""
    field = f"0{len(pin):X}{pin}".ljust(16, "F")
    return f"{int(field, 16) ^ _pan_field(pan):016X}"


def pin_of_block(block: str, pan: str) -> str | None:
    """The PIN in a format-0 block, or None if the block is not a well-formed one."""
    if len(block) != 16:
        return None
    try:
        field = f"{int(block, 16) ^ _pan_field(pan):016X}"
    except ValueError:
        return None
    length = int(field[1], 16)
    pin, padding = field[2 : 2 + length], field[2 + length :]
    if field[0] != "0" or length not in PIN_LENGTHS or not pin.isdigit() or set(padding) != {"F"}:
        return None
    return pin
