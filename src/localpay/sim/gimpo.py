"""Facts of the demo city, Gimpo (김포시): neighbourhoods, merchant mix, programs."""

from __future__ import annotations

from typing import Final

from localpay.domain.policy import Grant, Policy, default_sale

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
    """The demo programs. Welfare points are use-it-or-lose-it within the demo period.

    Policy money carries its `Grant`: the per-person cap per period the ledger enforces
    and the eligibility rules services/programs judges off the chain. Postpartum support
    is paid per newborn, one batch row per birth (its reference the birth's registration
    number, which the batch refuses twice): no per-person cap, so twins and a second
    child are paid."""
    return {
        "general": _policy(
            "김포페이 일반 (General purchase)",
            holding_cap=HOLDING_LIMIT,
            transferable=True,
            refundable=True,
            # Sold at 10 % off, up to 700,000 won a month (services/sales, docs/sales.md).
            sale=default_sale(rate_bp=DISCOUNT_PERCENT * 100, monthly_limit=MONTHLY_PURCHASE_LIMIT),
        ),
        "youth": _policy(
            "청년기본소득 (Youth dividend)",
            areas=list(AREA_LABELS),
            valid_days=90,
            grant=_grant("quarter", YOUTH_DIVIDEND, age=YOUTH_AGE, years=3, total_years=10),
        ),
        "postpartum": _policy(
            "산후조리비 (Postpartum care support)",
            allowed_categories=["baby_goods", "clinic", "pharmacy", "postpartum_care"],
            denied_categories=[],
            revenue_cap=0,
            valid_days=180,
            grant=_grant("once", 0),
        ),
        "welfare": _policy(
            "복지포인트 (Civil servants' welfare points)",
            valid_days=max(2, days // 2),
            per_payment_cap=300_000,
            grant=_grant("year", WELFARE_POINTS),
        ),
        "rewards": _policy(
            "봉사 보상 (Volunteering rewards)",
            valid_days=365,
            grant=_grant("month", REWARD_MONTHLY_CAP),
        ),
    }


def _grant(period: str, cap: int, age: int = 0, years: int = 0, total_years: int = 0) -> Grant:
    return Grant(
        period=period,
        per_person=cap,
        min_age=age,
        max_age=age,
        residence_years=years,
        residence_total_years=total_years,
        employment=[],
    )


#: Purchase discount and the monthly purchase limit of one citizen (won).
DISCOUNT_PERCENT: Final = 10
MONTHLY_PURCHASE_LIMIT: Final = 700_000
#: What one citizen may hold of the general program, purchases and discounts included.
HOLDING_LIMIT: Final = 1_500_000
YOUTH_DIVIDEND: Final = 250_000
POSTPARTUM_SUPPORT: Final = 500_000
WELFARE_POINTS: Final = 300_000
#: The youth dividend is for residents aged 24 (만 나이) on the decision date.
YOUTH_AGE: Final = 24
#: Volunteering rewards: at most this much per person per month (won).
REWARD_MONTHLY_CAP: Final = 100_000


#: Words for the demo's shop names by category: (Korean, romanized).
SHOP_WORDS: Final = {
    "restaurant": (
        ("한우국밥", "Hanu Gukbap"),
        ("손칼국수", "Son Kalguksu"),
        ("돈까스", "Donkkaseu"),
        ("해장국", "Haejangguk"),
        ("쌈밥", "Ssambap"),
        ("냉면", "Naengmyeon"),
    ),
    "cafe": (("커피", "Coffee"), ("카페", "Cafe"), ("로스터스", "Roasters")),
    "grocery": (("마트", "Mart"), ("슈퍼", "Super"), ("청과", "Fruits")),
    "bakery": (("베이커리", "Bakery"), ("빵집", "Bakehouse")),
    "academy": (
        ("수학학원", "Math Academy"),
        ("영어학원", "English Academy"),
        ("태권도", "Taekwondo"),
    ),
    "clinic": (("내과의원", "Clinic"), ("치과", "Dental"), ("한의원", "Oriental Clinic")),
    "pharmacy": (("약국", "Pharmacy"),),
    "beauty": (("헤어", "Hair"), ("미용실", "Salon")),
    "clothing": (("옷가게", "Clothing"), ("의류", "Apparel")),
    "fuel": (("주유소", "Gas Station"),),
    "market": (("시장상회", "Market Store"), ("정육점", "Butcher")),
    "postpartum_care": (("산후조리원", "Postpartum Care"),),
    "baby_goods": (("유아용품", "Baby Goods"),),
}
SHOP_PREFIXES: Final = (
    ("행복", "Haengbok"),
    ("한결", "Hangyeol"),
    ("푸른", "Pureun"),
    ("소담", "Sodam"),
    ("다온", "Daon"),
    ("새봄", "Saebom"),
    ("금빛", "Geumbit"),
    ("온정", "Onjeong"),
    ("들꽃", "Deulkkot"),
    ("하늘", "Haneul"),
)
BIG_STORES: Final = {
    "corporate_supermarket": ("기업형 슈퍼", "Chain Supermarket"),
    "department_store": ("백화점", "Department Store"),
    "entertainment": ("유흥주점", "Night Club"),
    "large_mart": ("대형마트", "Hypermarket"),
}


def shop_name(merchant_number: int, category: str, area: str) -> tuple[str, str]:
    """A demo shop's name (Korean, English): the area, a word and the kind of shop,
    e.g. ("구래동 행복 손칼국수", "Gurae-dong Haengbok Son Kalguksu"). Deterministic."""
    area_ko = next((a[1] for a in AREAS if a[0] == area), area)
    area_en = area.replace("-", " ").title().replace(" ", "-")
    if category in BIG_STORES:
        ko, en = BIG_STORES[category]
        return f"{area_ko} {ko}", f"{area_en} {en}"
    words = SHOP_WORDS.get(category, (("상점", "Shop"),))
    kind_ko, kind_en = words[merchant_number % len(words)]
    pre_ko, pre_en = SHOP_PREFIXES[(merchant_number // len(words)) % len(SHOP_PREFIXES)]
    return f"{area_ko} {pre_ko} {kind_ko}", f"{area_en} {pre_en} {kind_en}"
