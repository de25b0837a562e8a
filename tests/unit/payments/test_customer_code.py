"""The customer code's digits and hash (services/payments/qr/codes.py): what a scanner or a
cashier gives is read strictly, and the hash is the one the wallet's JS makes."""

from __future__ import annotations

import hashlib

import pytest

from localpay.services.payments.qr.codes import (
    DIGITS,
    CodeMalformed,
    code_hash,
    grouped,
    is_hash,
    normalise,
)

CODE = "12345678901234567890"


def test_twenty_digits_are_a_code_and_separators_between_groups_do_not_count() -> None:
    assert normalise(CODE) == CODE
    assert normalise("1234 5678 9012 3456 7890") == CODE
    assert normalise(" 1234-5678-9012-3456-7890\n") == CODE  # a scanner's trailing Enter
    assert DIGITS == 20


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "no code was given"),
        ("   ", "no code was given"),
        (CODE[:-1], "has 19"),
        (CODE + "1", "has 21"),
        ("1234567890123456789a", "only digits"),
        ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠", "only digits"),  # Arabic-Indic digits: isdigit() alone passes
        ("12345678901234567890\x00", "only digits"),
    ],
)
def test_anything_else_is_refused_saying_what_is_wrong(given: str, words: str) -> None:
    with pytest.raises(CodeMalformed, match=words) as caught:
        normalise(given)
    assert caught.value.code == "code_malformed"
    # A message never repeats a whole code: it may be logged or shown to someone else.
    assert CODE not in str(caught.value)


def test_the_hash_is_sha256_of_the_prefix_city_and_digits() -> None:
    expected = hashlib.sha256(b"localpay/code/v1\ngimpo\n" + CODE.encode()).hexdigest()
    assert code_hash("gimpo", CODE) == expected
    assert code_hash("gimpo", "1234 5678 9012 3456 7890") == expected
    assert is_hash(expected)


def test_the_same_digits_hash_apart_in_another_city() -> None:
    assert code_hash("gimpo", CODE) != code_hash("yangju", CODE)


def test_hashing_refuses_what_is_no_code() -> None:
    with pytest.raises(CodeMalformed):
        code_hash("gimpo", "1234")


def test_is_hash_takes_64_lowercase_hex_only() -> None:
    assert not is_hash("A" * 64)
    assert not is_hash("a" * 63)
    assert not is_hash(CODE)


def test_grouped_shows_five_groups_of_four() -> None:
    assert grouped(CODE) == "1234 5678 9012 3456 7890"
