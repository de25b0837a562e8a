"""Labels of the chain in people's words: merchant categories (one msgid each, so one
translation serves the wallet's cards, the shop list and every later page)."""

from __future__ import annotations

from typing import Final

from localpay.entrypoints.web.i18n import N_

#: Shop categories in people's words (a msgid like "cafe" alone could collide).
CATEGORY_NAMES: Final[dict[str, str]] = {
    "restaurant": N_("Restaurant"),
    "cafe": N_("Café"),
    "grocery": N_("Grocery"),
    "bakery": N_("Bakery"),
    "academy": N_("Academy (lessons)"),
    "clinic": N_("Clinic"),
    "pharmacy": N_("Pharmacy"),
    "beauty": N_("Hair and beauty"),
    "clothing": N_("Clothing"),
    "fuel": N_("Gas station"),
    "market": N_("Market stall"),
    "postpartum_care": N_("Postpartum care centre"),
    "baby_goods": N_("Baby goods"),
    "corporate_supermarket": N_("Chain supermarket"),
    "department_store": N_("Department store"),
    "entertainment": N_("Entertainment bar"),
    "large_mart": N_("Hypermarket"),
}
