"""Labels of the chain in people's words: merchant categories (one msgid each, so one
translation serves the wallet's cards, the shop list and every later page) and the
directory's names of areas, in the page's language."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from localpay.entrypoints.web.context import language
from localpay.entrypoints.web.deps import container
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


def area_names(request: Request, city: str) -> dict[str, str]:
    """area label -> its name from the city's directory in the page's language (Korean
    where no English one is kept); labels without a name are not in it."""
    english = language(request) == "en"
    return {
        label: en if english and en else ko
        for label, (ko, en) in container(request).directory.area_names(city).items()
    }
