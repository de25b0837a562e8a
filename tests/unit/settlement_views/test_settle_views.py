"""A payout account is shown masked the same way everywhere (services/settlement/views.py)."""

from __future__ import annotations

from localpay.services.settlement.ports import Party
from localpay.services.settlement.views import mask_name, mask_number, masked


def test_all_but_the_last_four_digits_are_hidden() -> None:
    assert mask_number("110-123-456789") == "********6789"
    assert mask_number("123") == "123"


def test_a_name_keeps_its_first_and_last_character() -> None:
    assert (mask_name("김하나"), mask_name("김하"), mask_name("남궁민수")) == (
        "김*나",
        "김*",
        "남**수",
    )


def test_the_bank_by_the_name_people_know_or_its_code() -> None:
    assert masked(Party("김하나", "088", "110123456789")) == "신한 · ********6789 · 김*나"
    assert masked(Party("김하나", "088", "110123456789"), "en").startswith("Shinhan")
    assert masked(Party("가게", "999", "3333000000001")).startswith("999 · ")
