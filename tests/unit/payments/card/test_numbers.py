"""Card numbers: the Luhn check digit on known vectors, the city's BIN range, the card id
(never the number), the expiry five years on."""

from __future__ import annotations

import pytest

from localpay.services.payments.card import numbers
from localpay.testing.machine_city import kst_ms

VALID = ["79927398713", "4111111111111111", "4539148803436467", "378282246310005", "18"]
INVALID = ["79927398710", "4111111111111112", "1234567812345678", "", "7992739871a"]


@pytest.mark.parametrize("number", VALID)
def test_luhn_accepts_known_valid_numbers(number: str) -> None:
    assert numbers.luhn_valid(number)
    assert numbers.luhn_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize("number", INVALID)
def test_luhn_refuses_wrong_check_digits(number: str) -> None:
    assert not numbers.luhn_valid(number)


def test_every_single_digit_error_is_caught() -> None:
    number = "4111111111111111"
    for position in range(len(number)):
        for digit in "0123456789":
            if digit != number[position]:
                changed = number[:position] + digit + number[position + 1 :]
                assert not numbers.luhn_valid(changed), changed


def test_new_numbers_are_in_the_city_bin_range() -> None:
    bin6 = numbers.bin_of(1)
    assert bin6 == "941001"
    for _ in range(200):
        number = numbers.new_number(bin6)
        assert numbers.in_range(number, bin6)
        assert not numbers.in_range(number, numbers.bin_of(2))


@pytest.mark.parametrize("index", [0, 1000, -1])
def test_bin_index_out_of_range_is_refused(index: int) -> None:
    with pytest.raises(ValueError, match="BIN index"):
        numbers.bin_of(index)


def test_card_id_is_keyed_and_never_the_number() -> None:
    number = numbers.new_number("941001")
    ident = numbers.card_id(b"k" * 32, number)
    assert len(ident) == 64 and number not in ident
    assert ident == numbers.card_id(b"k" * 32, number)
    assert ident != numbers.card_id(b"j" * 32, number)  # another city's secret


def test_expiry_is_five_years_on_and_ends_with_its_month() -> None:
    issued = kst_ms(2026, 12, 1, 10)
    assert numbers.expiry_of(issued) == "3112"
    assert not numbers.expired("3112", kst_ms(2031, 12, 31, 23, 59))
    assert numbers.expired("3112", kst_ms(2032, 1, 1, 0, 0))


def test_mask_and_groups() -> None:
    assert numbers.masked("1234") == "**** **** **** 1234"
    assert numbers.grouped("9410011234567897") == "9410 0112 3456 7897"
