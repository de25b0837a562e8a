"""PINs: the ISO 9564 format-0 block (the standard's worked example), malformed blocks,
argon2 hashes."""

from __future__ import annotations

import argon2
import pytest

from localpay.services.payments.card import pins

FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_format_0_block_of_the_worked_example() -> None:
    # PIN 1234, PAN 43219876543210987: 041234FFFFFFFFFF xor 0000987654321098.
    assert pins.pin_block("1234", "43219876543210987") == "0412AC89ABCDEF67"
    assert pins.pin_of_block("0412AC89ABCDEF67", "43219876543210987") == "1234"


def test_block_round_trips_for_every_length() -> None:
    pan = "9410011234567897"
    for pin in ("0000", "12345", "987654"):
        assert pins.pin_of_block(pins.pin_block(pin, pan), pan) == pin


@pytest.mark.parametrize(
    "block",
    ["", "0412AC89ABCDEF6", "0412AC89ABCDEF6Z", "1412AC89ABCDEF67", "0912AC89ABCDEF67"],
)
def test_malformed_blocks_give_no_pin(block: str) -> None:
    assert pins.pin_of_block(block, "43219876543210987") is None


def test_block_of_another_card_gives_no_pin() -> None:
    block = pins.pin_block("1234", "43219876543210987")
    assert pins.pin_of_block(block, "9410011234567897") != "1234"


@pytest.mark.parametrize("pin", ["123", "1234567", "12a4", "１２３４", ""])
def test_pins_are_4_to_6_ascii_digits(pin: str) -> None:
    assert not pins.valid_pin(pin)


def test_hash_checks_the_pin_and_hides_it() -> None:
    hashed = pins.hash_pin(FAST, "2468")
    assert "2468" not in hashed
    assert pins.pin_matches(FAST, hashed, "2468")
    assert not pins.pin_matches(FAST, hashed, "2469")
    assert not pins.pin_matches(FAST, "not-a-hash", "2468")
