"""The business registration number's check digit and its normal form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localpay.domain.brn import BadBrn, check_digit, formatted, is_valid, normalise

#: Numbers of well-known companies, as printed on their public business information.
KNOWN_VALID = ("124-81-00998", "120-81-47521", "220-81-62517", "104-81-37225")


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_numbers_are_well_formed(number: str) -> None:
    assert normalise(number) == number.replace("-", "")
    assert formatted(normalise(number)) == number


def test_the_rule_by_hand() -> None:
    # 124-81-0099?: 1·1+2·3+4·7+8·1+1·3+0·7+0·1+9·3+9·5 = 118, plus ⌊5·9/10⌋ = 4 -> 122;
    # check = (10 − 122 mod 10) mod 10 = 8.
    assert check_digit("124810099") == 8


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("124-81-0099", "10 digits, not 9"),
        ("124-81-009981", "10 digits, not 11"),
        ("124-81-00997", "should be 8, not 7"),
        ("124/81/00998", "'/' is not allowed"),
        ("１２４-81-00998", "is not allowed"),
    ],
)
def test_refusals_say_why(text: str, reason: str) -> None:
    with pytest.raises(BadBrn, match=reason):
        normalise(text)


def test_spaces_and_hyphens_are_ignored() -> None:
    assert normalise(" 124 81 00998 ") == normalise("1248100998") == "1248100998"


nine = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(nine)
def test_the_check_digit_makes_a_valid_number(first: str) -> None:
    assert is_valid(first + str(check_digit(first)))


@given(nine, st.integers(0, 9), st.integers(1, 9))
def test_one_digit_changed_fails(first: str, position: int, delta: int) -> None:
    number = first + str(check_digit(first))
    digits = list(number)
    original = int(digits[position])
    changed = (original + delta) % 10
    digits[position] = str(changed)
    altered = "".join(digits)
    # Weights 1, 3, 7 are prime to 10 and 5·d + ⌊5·d/10⌋ differs mod 10 for every d: a
    # single changed digit always changes the sum's last digit.
    assert not is_valid(altered)
