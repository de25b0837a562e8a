"""Facts of the demo city, Gimpo (김포시): neighbourhoods, merchant mix, programs."""

from __future__ import annotations

from typing import Final

from localpay.domain.policy import Policy

#: (label, Korean name, share of residents, card-heavy?) for the 14 읍·면·동.
AREAS: Final = (
    ("tongjin-eup", "통진읍", 0.06, True),
    ("gochon-eup", "고촌읍", 0.07, True),
    ("yangchon-eup", "양촌읍", 0.07, True),
    ("daegot-myeon", "대곶면", 0.03, True),
    ("wolgot-myeon", "월곶면", 0.02, True),
    ("haseong-myeon", "하성면", 0.02, True),
    ("gimpobon-dong", "김포본동", 0.07, False),
    ("janggibon-dong", "장기본동", 0.06, False),
    ("sau-dong", "사우동", 0.08, False),
    ("pungmu-dong", "풍무동", 0.11, False),
    ("janggi-dong", "장기동", 0.09, False),
    ("gurae-dong", "구래동", 0.10, False),
    ("masan-dong", "마산동", 0.09, False),
    ("unyang-dong", "운양동", 0.13, False),
)
AREA_LABELS: Final = tuple(a[0] for a in AREAS)

#: Merchant categories of local shops with their share of merchants.
LOCAL_CATEGORIES: Final = (
    ("restaurant", 0.30),
    ("cafe", 0.12),
    ("grocery", 0.10),
    ("bakery", 0.05),
    ("academy", 0.08),
    ("clinic", 0.06),
    ("pharmacy", 0.04),
    ("beauty", 0.07),
    ("clothing", 0.05),
    ("fuel", 0.03),
    ("market", 0.05),
    ("postpartum_care", 0.02),
    ("baby_goods", 0.03),
)
#: Categories the Ministry's guidelines exclude from general-purpose local currency.
EXCLUDED_CATEGORIES: Final = [
    "corporate_supermarket",
    "department_store",
    "entertainment",
    "large_mart",
]
#: Annual revenue above which a business is excluded (30억 won).
REVENUE_CAP: Final = 3_000_000_000
#: Share of merchants that are ineligible big stores (kept for realism and tests).
EXCLUDED_SHARE: Final = 0.03


def _policy(name: str, **overrides: object) -> Policy:
    fields: dict[str, object] = {
        "name": name,
        "allowed_categories": [],
        "denied_categories": list(EXCLUDED_CATEGORIES),
        "areas": [],
        "revenue_cap": REVENUE_CAP,
        "valid_until": "",
        "valid_days": 0,
        "per_payment_cap": 0,
        "daily_cap": 0,
        "monthly_cap": 0,
        "holding_cap": 0,
        "transferable": False,
        "refundable": False,
    }
    fields.update(overrides)
    return Policy(**fields)  # type: ignore[arg-type]


def programs(days: int) -> dict[str, Policy]:
    """The four demo programs. Welfare points are use-it-or-lose-it within the demo period."""
    return {
        "general": _policy(
            "김포페이 일반 (General purchase)",
            holding_cap=1_500_000,
            transferable=True,
            refundable=True,
        ),
        "youth": _policy(
            "청년기본소득 (Youth dividend)",
            areas=list(AREA_LABELS),
            valid_days=90,
        ),
        "postpartum": _policy(
            "산후조리비 (Postpartum care support)",
            allowed_categories=["baby_goods", "clinic", "pharmacy", "postpartum_care"],
            denied_categories=[],
            revenue_cap=0,
            valid_days=180,
        ),
        "welfare": _policy(
            "복지포인트 (Civil servants' welfare points)",
            valid_days=max(2, days // 2),
            per_payment_cap=300_000,
        ),
    }


#: Purchase discount and the monthly purchase limit of one citizen (won).
DISCOUNT_PERCENT: Final = 10
MONTHLY_PURCHASE_LIMIT: Final = 500_000
YOUTH_DIVIDEND: Final = 250_000
POSTPARTUM_SUPPORT: Final = 500_000
WELFARE_POINTS: Final = 300_000
