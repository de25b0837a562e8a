"""An application as sent (page or API), checked field by field before anything is kept.

Every refusal names the field and says what is wrong in one plain sentence, so the page
shows it beside the field and the API as a problem; nothing is stored until all pass.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import msgspec

from localpay.domain import brn
from localpay.domain.errors import Refused
from localpay.services.identity.service import MIN_PASSWORD
from localpay.services.registry import accounts, catalog
from localpay.services.registry.accounts import BankAccount
from localpay.services.registry.catalog import Industry

NAME_MAX: Final = 60
USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
PASSWORD_MAX: Final = 128
#: Ten times the largest revenue tier anyone declares: beyond it, a typing error.
REVENUE_MAX: Final = 10_000_000_000_000


class BadField(Refused):
    """One field of an application is wrong; `field` names it (the page marks it)."""

    code = "validation_failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ApplicationForm(msgspec.Struct, frozen=True):
    """What an applicant sends; the account and the password never leave the server."""

    brn: str
    name: str
    name_en: str
    industry: str
    area: str
    annual_revenue: int
    bank: str
    account_number: str
    account_holder: str
    owner_username: str
    owner_password: str


class Checked(msgspec.Struct, frozen=True):
    brn: str
    name: str
    name_en: str
    industry: Industry
    area: str
    annual_revenue: int
    account: BankAccount
    owner_username: str
    owner_password: str


def check_brn(text: str) -> str:
    try:
        return brn.normalise(text)
    except brn.BadBrn as exc:
        raise BadField("brn", str(exc)) from None


def check_industry(code: str) -> Industry:
    found = catalog.industry(code)
    if found is None:
        raise BadField("industry", f"{code.strip() or 'an empty code'} is not in the list")
    return found


def check_area(city: str, area: str, known: set[str]) -> str:
    """`known`: the city's neighbourhood labels (its data file, else its directory)."""
    if area not in known:
        raise BadField("area", "choose the neighbourhood (읍·면·동) from the list")
    return area


def _name(field: str, text: str) -> str:
    name = unicodedata.normalize("NFC", text.strip())
    if not name or len(name) > NAME_MAX or any(unicodedata.category(c)[0] == "C" for c in name):
        raise BadField(field, f"a trading name is 1 to {NAME_MAX} printable characters")
    return name


def check(city: str, form: ApplicationForm, known_areas: set[str]) -> Checked:
    """The form with every field checked, or BadField for the first wrong one (in the
    order of the form on the page)."""
    number = check_brn(form.brn)
    name, name_en = _name("name", form.name), _name("name_en", form.name_en)
    if not name_en.isascii():
        raise BadField("name_en", "write the romanized name in Latin letters")
    industry = check_industry(form.industry)
    area = check_area(city, form.area, known_areas)
    if not 0 <= form.annual_revenue <= REVENUE_MAX:
        raise BadField("annual_revenue", "the annual revenue is a whole number of won")
    try:
        account = accounts.checked(form.bank, form.account_number, form.account_holder)
    except accounts.BadAccount as exc:
        raise BadField("account", str(exc)) from None
    if not USERNAME.fullmatch(form.owner_username):
        raise BadField(
            "owner_username",
            "a log-in name is 3 to 32 small letters, digits, '.', '_' or '-'",
        )
    if not MIN_PASSWORD <= len(form.owner_password) <= PASSWORD_MAX:
        raise BadField("owner_password", f"a password needs at least {MIN_PASSWORD} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in form.owner_password):
        raise BadField("owner_password", "a password holds no control characters")
    return Checked(
        number, name, name_en, industry, area, form.annual_revenue, account,
        form.owner_username, form.owner_password,
    )  # fmt: skip
