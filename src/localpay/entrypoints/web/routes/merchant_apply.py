"""A shop applies to the city (public), follows its application by its status link, and
its staff see where each program's money may be spent at the shop.

The form checks as the applicant types (htmx posts the form to `apply/check/<field>`):
the BRN's check digit, the category an industry code gives, the revenue tier and the 30억
rule, in plain words. The service (services/registry) checks everything again on send.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from localpay.domain import brn
from localpay.domain.errors import Conflict, NotFound
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import language, say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.labels import CATEGORY_NAMES
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.security import check_csrf
from localpay.services.identity import access
from localpay.services.registry import accounts, catalog
from localpay.services.registry.eligibility import Eligibility
from localpay.services.registry.forms import REVENUE_MAX, USERNAME, ApplicationForm, BadField
from localpay.services.registry.service import Registry
from localpay.services.registry.throttle import TooManyApplications
from localpay.services.registry.tiers import GENERAL_USE_CAP, tier_of

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

FIELDS: Final = (
    "brn", "name", "name_en", "industry", "area", "annual_revenue", "bank", "account_number",
    "account_holder", "owner_username", "owner_password",
)  # fmt: skip
#: What the page says about a field the service refused (the live checks say more).
FIELD_PROBLEMS: Final = {
    "name": N_("Type the shop's name (up to 60 characters)."),
    "name_en": N_("Type the shop's name in Latin letters (up to 60 characters)."),
    "industry": N_("This code is not in the list: pick your industry from the list."),
    "area": N_("Choose your neighbourhood from the list."),
    "annual_revenue": N_("Type the annual revenue in won, digits only."),
    "account": N_("Check the bank and the account number (10 to 16 digits) and the holder's name."),
    "owner_username": N_("Choose a log-in name of 3 to 32 small letters, digits, '.', '_' or '-'."),
    "owner_password": N_("The password needs at least 12 characters."),
}
TIERS: Final = {
    "up_to_300m": N_("Up to 300 million won"),
    "up_to_1b": N_("300 million to 1 billion won"),
    "up_to_3b": N_("1 to 3 billion won"),
    "over_3b": N_("Over 3 billion won"),
}
#: Said of a field without a message of its own, of a denial code without a verdict.
ANY_FIELD: Final = N_("Check this field.")
NOT_HERE: Final = N_("Not for this shop")
VERDICTS: Final = {
    "ok": N_("Can be used here"),
    "category_denied": N_("Not for this kind of shop"),
    "area_denied": N_("Not in this neighbourhood"),
    "revenue_cap_exceeded": N_("Not for shops with this revenue"),
}


def registry_of(request: Request) -> Registry:
    found: Registry = container(request).registry
    return found


def area_choices(request: Request, city: str) -> list[tuple[str, str]]:
    english = language(request) == "en"
    areas = registry_of(request).areas(city)
    return [(a.label, a.name_en if english and a.name_en else a.name_ko) for a in areas]


def eligibility_rows(request: Request, found: list[Eligibility]) -> list[dict[str, Any]]:
    """Per program: its name, yes or no, and why not, in the page's language."""
    return [
        {
            "program": e.program,
            "name": e.name,
            "eligible": e.eligible,
            "verdict": say(request, VERDICTS.get(e.code, NOT_HERE)),
            "condition": e.has_condition,
        }
        for e in found
    ]


def _context(request: Request, city: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "city": city_of(request, city),
        "values": values,
        "errors": {},
        "areas": area_choices(request, city),
        "industries": catalog.industries(),
        "banks": [
            (code, ko if language(request) == "ko" else en)
            for code, (ko, en) in accounts.BANKS.items()
        ],
        "categories": CATEGORY_NAMES,
        "idempotency": str(uuid.uuid4()),
    }


@router.get("/c/{city}/merchants/apply")
def apply_form(request: Request, city: str) -> Response:
    return page(request, "merchants/apply.html", _context(request, city, {}))


# -- live checks ---------------------------------------------------------------------------


def brn_check(request: Request, text: str, taken: bool = False) -> tuple[bool, str]:
    """(well-formed?, what to say) about a typed business registration number."""
    digits = "".join(ch for ch in text if ch.isdigit())
    try:
        brn.normalise(text)
    except brn.BadBrn:
        if not text.strip():
            return False, say(request, "Type the 10-digit business registration number.")
        if any(not (ch.isdigit() or ch in "- ") for ch in text.strip()):
            return False, say(request, "Use only digits and hyphens, like 123-45-67890.")
        if len(digits) != brn.DIGITS:
            return False, say(
                request,
                "The number has %(count)s digits; a business registration number has 10.",
                count=len(digits),
            )
        return False, say(
            request,
            "The last digit does not match the others: check the number on your business"
            " registration certificate.",
        )
    if taken:
        return False, say(request, "This business has already applied or is registered here.")
    return True, say(
        request,
        "The number is well-formed. The city checks it against your registration certificate.",
    )


def industry_check(request: Request, code: str) -> tuple[bool, str]:
    found = catalog.industry(code)
    if found is None:
        return False, say(request, FIELD_PROBLEMS["industry"])
    name = found.name_ko if language(request) == "ko" else found.name_en
    category = say(request, CATEGORY_NAMES.get(found.category, found.category))
    return True, say(request, "%(industry)s: category %(category)s.", industry=name,
                     category=category)  # fmt: skip


def revenue_of(text: str) -> int | None:
    raw = text.replace(",", "").replace("원", "").strip()
    if not raw.isdigit() or len(raw) > len(str(REVENUE_MAX)):
        return None
    amount = int(raw)
    return amount if amount <= REVENUE_MAX else None


def revenue_check(request: Request, text: str) -> tuple[bool, str]:
    amount = revenue_of(text)
    if amount is None:
        return False, say(request, FIELD_PROBLEMS["annual_revenue"])
    tier = say(request, TIERS[tier_of(amount)])
    if amount > GENERAL_USE_CAP:
        return True, say(
            request,
            "%(tier)s: above 3 billion won, general local currency cannot be spent at the"
            " shop (some programs may still allow it).",
            tier=tier,
        )
    return True, tier


@router.post("/c/{city}/merchants/apply/check/{field}")
async def live_check(request: Request, city: str, field: str, _: Csrf) -> Response:
    city_of(request, city)
    form = await request.form()
    typed = forms.text(form, field if field in FIELDS else "", max_length=40)
    if field == "brn":
        ok, message = brn_check(request, typed)
    elif field == "industry":
        ok, message = industry_check(request, typed)
    elif field == "annual_revenue":
        ok, message = revenue_check(request, typed)
    else:
        raise PageError(404, N_("There is no such page."))
    context = {"check": {"ok": ok, "text": message}}
    return page(request, "merchants/apply.html", context, block="check")


# -- sending ---------------------------------------------------------------------------


def _values(form: FormData) -> dict[str, str]:
    return {name: forms.text(form, name, max_length=200) for name in FIELDS}


def _problem(request: Request, exc: BadField, values: dict[str, str]) -> str:
    if exc.field == "brn":
        return brn_check(request, values["brn"], taken=brn.is_valid(values["brn"]))[1]
    if exc.field == "owner_username" and USERNAME.fullmatch(values["owner_username"]):
        return say(request, "This log-in name is taken: choose another.")
    if exc.field == "industry":
        return industry_check(request, values["industry"])[1]
    return say(request, FIELD_PROBLEMS.get(exc.field, ANY_FIELD))


@router.post("/c/{city}/merchants/apply")
async def apply(request: Request, city: str, _: Csrf) -> Response:
    city_of(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    values = _values(form)
    revenue = revenue_of(values["annual_revenue"])
    sent = ApplicationForm(
        **{**values, "annual_revenue": -1 if revenue is None else revenue}  # type: ignore[arg-type]
    )
    source = request.client.host if request.client else ""
    try:
        done = registry_of(request).apply(city, sent, key, source)
    except BadField as exc:
        context = _context(request, city, {**values, "owner_password": ""})
        context["errors"] = {exc.field: _problem(request, exc, values)}
        context["idempotency"] = key  # the same send, corrected, is one application
        return page(request, "merchants/apply.html", context, status=422)
    except TooManyApplications:
        message = N_("Too many applications from here. Try again in a few minutes.")
        raise PageError(429, message) from None
    except Conflict:
        message = N_("This form was already sent with other details. Reload it.")
        raise PageError(409, message) from None
    return RedirectResponse(f"/c/{city}/merchants/status/{done.token}", status_code=303)


@router.get("/c/{city}/merchants/status/{token}")
def status(request: Request, city: str, token: str) -> Response:
    found_city = city_of(request, city)
    try:
        view = registry_of(request).status(city, token)
    except NotFound:
        raise PageError(404, N_("There is no such page.")) from None
    context = {
        "city": found_city,
        "application": view,
        "category": say(request, CATEGORY_NAMES.get(view.category, view.category)),
        "area": dict(area_choices(request, city)).get(view.area, view.area),
        "tier": say(request, TIERS[view.revenue_tier]),
        "eligibility": eligibility_rows(request, view.eligibility),
    }
    return page(request, "merchants/status.html", context)


@router.get("/c/{city}/merchants/{merchant}/eligibility")
def shop_eligibility(request: Request, city: str, merchant: str) -> Response:
    """For the shop's own staff (and the city's): where each program may be spent here."""
    person(request, city, lambda p: access.reads_merchant(p, city, merchant))
    registry = registry_of(request)
    try:
        found = registry.eligibility(city, merchant)
    except NotFound:
        raise PageError(404, N_("There is no such page.")) from None
    shop = container(request).directory.shop(city, merchant)
    context = {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop.name if shop else merchant,
        "eligibility": eligibility_rows(request, found),
    }
    return page(request, "merchants/eligibility.html", context)
