"""The registry's project data and its small rules: industry codes, Gimpo's areas, the
revenue tiers at their edges, the masked account."""

from __future__ import annotations

import pytest

from localpay.services.registry import accounts, catalog
from localpay.services.registry.tiers import tier_of
from localpay.sim import gimpo


def test_gimpo_areas_are_the_demo_citys() -> None:
    found = catalog.areas("gimpo")
    assert [a.label for a in found] == list(gimpo.AREA_LABELS)
    assert [a.name_ko for a in found] == [a[1] for a in gimpo.AREAS]
    assert all(a.name_en for a in found)
    assert catalog.areas("nowhere") == ()
    assert catalog.areas("../etc") == ()


def test_industry_codes_map_to_the_policy_categories() -> None:
    codes = catalog.industries()
    known = {name for name, _ in gimpo.LOCAL_CATEGORIES} | set(gimpo.EXCLUDED_CATEGORIES)
    assert len({i.code for i in codes}) == len(codes)
    assert all(len(i.code) == 5 and i.code.isdigit() for i in codes)
    assert {i.category for i in codes} <= known
    assert {name for name, _ in gimpo.LOCAL_CATEGORIES} <= {i.category for i in codes}
    examples = {"56111": "restaurant", "47121": "grocery", "47111": "department_store",
                "47112": "large_mart", "47811": "pharmacy", "96112": "postpartum_care"}  # fmt: skip
    for code, category in examples.items():
        found = catalog.industry(code)
        assert found is not None and found.category == category
    assert catalog.industry("00000") is None


@pytest.mark.parametrize(
    ("revenue", "tier"),
    [
        (0, "up_to_300m"),
        (300_000_000, "up_to_300m"),
        (300_000_001, "up_to_1b"),
        (1_000_000_000, "up_to_1b"),
        (3_000_000_000, "up_to_3b"),
        (3_000_000_001, "over_3b"),
    ],
)
def test_revenue_tiers_at_their_edges(revenue: int, tier: str) -> None:
    assert tier_of(revenue) == tier


def test_the_account_is_masked_but_for_four_digits() -> None:
    account = accounts.checked("004", "123456-78-901234", "김하나")
    assert accounts.masked(account) == "국민 ******-**-**1234"
    assert accounts.masked(account, "en") == "KB Kookmin ******-**-**1234"
    with pytest.raises(accounts.BadAccount):
        accounts.checked("004", "123-456", "김하나")
    with pytest.raises(accounts.BadAccount):
        accounts.checked("004", "1234567890", "")
