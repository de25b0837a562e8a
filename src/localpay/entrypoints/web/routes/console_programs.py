"""The console's programs: the list with each current version's rules, a form that
drafts a new program or a new version (every Policy field, checked live by the ledger's
own checkers), where the draft applies, "try it" for its CEL condition, and proposals:
define_program and mint go to the approvals queue (maker-checker, services/approvals).

A proposal's idempotency key is rendered into the form (a double submit is one
proposal); every POST is CSRF-checked.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from localpay.domain.policy import GRANT_PERIODS, SALE_MODES, WHEN_BUDGET_OUT, Policy
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.labels import CATEGORY_NAMES, area_names
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.ledger import conditions
from localpay.services.approvals.service import ProposalError
from localpay.services.console import drafts
from localpay.services.console.preview import check_condition, preview, sample_context
from localpay.services.identity import access
from localpay.services.identity.service import Principal

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

PROGRAM: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
LINE_BREAKS: Final = re.compile(r"[\r\n\t]+")

#: The checkers' messages (domain.policy.check_policy, drafts) in the catalogs; a
#: message not listed (the CEL checker's own) is shown as the checker wrote it.
MESSAGES: Final = (
    N_("Enter a whole number (0 for no limit)."),
    N_("Use lower-case letters, digits and - _ . only."),
    N_("This is needed."),
    N_("This is too long."),
    N_("caps must be whole numbers from 0 (no limit) to the amount limit"),
    N_("valid_days must be a whole number from 0 (none) to 36600"),
    N_("too many categories"),
    N_("too many areas"),
    N_("a category is both allowed and denied"),
    N_("valid_until must be a date YYYY-MM-DD or empty"),
    N_("valid_until must be from 1970-01-01 to 9999-12-30"),
    N_("the daily cap exceeds the monthly cap"),
    N_("sale mode must be one of discount, cashback"),
    N_("when_budget_out must be one of no_discount, stop"),
    N_("the rate must be from 0 to 10000 basis points"),
    N_("a cashback cap belongs to a cashback sale"),
    N_("grant period must be one of once, month, quarter, year"),
    N_("the minimum age is above the maximum age"),
    N_("too many employment statuses"),
    N_("conditions use whole numbers only (no decimals or double())"),
    N_("a program with this id exists: edit it to make a new version"),
)

#: Every field an error may be shown beside (the check's out-of-band swaps).
ERROR_FIELDS: Final = (
    "",
    "program",
    "name",
    "allowed_categories",
    "denied_categories",
    "areas",
    "valid_until",
    *drafts.NUMBERS,
    "mode",
    "when_budget_out",
    *drafts.SALE_NUMBERS,
    "period",
    *drafts.GRANT_NUMBERS,
    "employment",
    "condition",
)


def _maker(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: access.proposes(p, city))


def _fields(form: FormData) -> dict[str, str | list[str]]:
    """The form as drafts reads it: lists for the checkbox groups, text otherwise."""
    found: dict[str, str | list[str]] = {}
    for name in ("allowed_categories", "denied_categories", "areas"):
        found[name] = [v for v in form.getlist(name) if isinstance(v, str)]
    for name, value in form.multi_items():
        if name not in found and name != "condition" and isinstance(value, str):
            found[name] = forms.text(form, name, max_length=1024)
    found["condition"] = condition_text(form)
    return found


def condition_text(form: FormData) -> str:
    """The condition as typed: a textarea may hold line breaks and tabs, which CEL reads
    as spaces; they become spaces (one line on the chain), other control characters
    are refused as in every field."""
    raw = form.get("condition")
    if not isinstance(raw, str):
        return ""
    text = LINE_BREAKS.sub(" ", raw).strip()
    if len(text) > 4096 or any(ord(ch) < 0x20 for ch in text):
        raise PageError(422, N_("Some of what you entered is too long or not allowed."))
    return text  # the 1024-character bound is the draft's, shown beside the field


def _plain(request: Request, errors: dict[str, str]) -> dict[str, str]:
    return {field: say(request, message) for field, message in errors.items()}


def _form_context(
    request: Request, city: str, who: Principal, fields: dict[str, Any], program: str | None
) -> dict[str, Any]:
    state = container(request).ledgers.sequencer(city).state
    return {
        **console_context(request, city, who),
        "fields": fields,
        "editing": program,
        "current": state.programs[program].versions[-1] if program else None,
        "categories": CATEGORY_NAMES,
        "area_names": _areas(request, city),
        "sale_modes": SALE_MODES,
        "when_budget_out": WHEN_BUDGET_OUT,
        "grant_periods": GRANT_PERIODS,
        "error_fields": ERROR_FIELDS,
        "engine": conditions.ENGINE,
        "context_vars": list(conditions.CONTEXT),
        "errors": {},
        "preview": None,
        "uuid": uuid.uuid4().hex,
    }


def _areas(request: Request, city: str) -> dict[str, str]:
    """The directory's 읍·면·동, and any area a merchant is registered in that it has not
    named yet (shown by its label), so every area on the chain can be chosen."""
    named = area_names(request, city)
    merchants = container(request).ledgers.sequencer(city).state.merchants.values()
    unnamed = {m.area: m.area for m in merchants if m.area not in named}
    return dict(sorted({**named, **unnamed}.items(), key=lambda item: item[1]))


@router.get("/c/{city}/console/programs")
def programs(request: Request, city: str) -> Response:
    who = official(request, city)
    state = container(request).ledgers.sequencer(city).state
    listed = [state.programs[p] for p in sorted(state.programs)]
    context = {
        **console_context(request, city, who),
        "programs": listed,
        "categories": CATEGORY_NAMES,
        "area_names": area_names(request, city),
        # One idempotency key per mint form, made when the page is shown.
        "keys": {p.id: uuid.uuid4().hex for p in listed},
    }
    return page(request, "console/programs.html", context)


@router.get("/c/{city}/console/programs/new")
def new_program(request: Request, city: str) -> Response:
    who = _maker(request, city)
    fields: dict[str, Any] = {"program": "", "name": ""}
    return page(
        request, "console/program_form.html", _form_context(request, city, who, fields, None)
    )


@router.get("/c/{city}/console/programs/{program}/edit")
def edit_program(request: Request, city: str, program: str) -> Response:
    who = _maker(request, city)
    state = container(request).ledgers.sequencer(city).state
    if program not in state.programs:
        raise PageError(404, N_("There is no such page."))
    fields = drafts.fields_of(state.programs[program].versions[-1])
    return page(
        request, "console/program_form.html", _form_context(request, city, who, fields, program)
    )


def _checked(
    request: Request, city: str, form: FormData
) -> tuple[str | None, dict[str, Any], drafts.Draft]:
    """The program the form is for (None for a new one), its fields, and its draft."""
    fields = _fields(form)
    editing = forms.text(form, "editing", max_length=40) or None
    state = container(request).ledgers.sequencer(city).state
    result = drafts.draft(fields)
    program = editing or str(fields.get("program", ""))
    if editing is not None and editing not in state.programs:
        raise PageError(404, N_("There is no such page."))
    if editing is None and not PROGRAM.fullmatch(program):
        result.errors["program"] = drafts.BAD_LABEL
        result.policy = None
    elif editing is None and program in state.programs:
        result.errors["program"] = "a program with this id exists: edit it to make a new version"
        result.policy = None
    return editing, fields, result


@router.post("/c/{city}/console/programs/check")
async def check(request: Request, city: str, _: Csrf) -> Response:
    """htmx: every field's message (out-of-band, next to its field) and the preview."""
    who = _maker(request, city)
    editing, fields, result = _checked(request, city, await request.form())
    context = _form_context(request, city, who, fields, editing)
    context["errors"] = _plain(request, result.errors)
    context["preview"] = _preview(request, city, result.policy)
    context["partial"] = True  # the fields' messages go out of band, beside each field
    return page(request, "console/program_form.html", context, block="checks")


def _preview(request: Request, city: str, policy: Policy | None) -> Any:
    if policy is None:
        return None
    return preview(container(request).ledgers.sequencer(city).state, policy)


@router.post("/c/{city}/console/programs/try")
async def try_condition(request: Request, city: str, _: Csrf) -> Response:
    """htmx: the condition's verdict on a sample payment typed into the page."""
    who = _maker(request, city)
    form = await request.form()
    expression = condition_text(form)
    tried: dict[str, Any] = {"message": None, "verdict": None}
    try:
        sample = sample_context(_sample_fields(form))
    except ValueError:
        tried["message"] = say(request, "Enter whole numbers for the sample payment.")
    else:
        found = check_condition(expression, sample) if expression else None
        tried = {
            "message": found.message if found else None,
            "verdict": found.verdict if found else None,
        }
    context = {**_form_context(request, city, who, {}, None), "tried": tried}
    return page(request, "console/program_form.html", context, block="tried")


SAMPLE_NUMBERS: Final = ("amount", "hour", "weekday", "wallet_age_days", "lot_age_days")


def _sample_fields(form: FormData) -> dict[str, object]:
    found: dict[str, object] = {}
    for name in SAMPLE_NUMBERS:
        raw = forms.text(form, f"try_{name}", max_length=12)
        if raw:
            found[name] = int(raw) if raw.isdigit() else raw  # text: refused as not whole
    for name in ("category", "area", "program"):
        raw = forms.text(form, f"try_{name}", max_length=40)
        if raw:
            found[name] = raw
    return found


@router.post("/c/{city}/console/programs")
async def propose_program(request: Request, city: str, _: Csrf) -> Response:
    """The draft as a define_program proposal; with faults, the form again, marked."""
    who = _maker(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    editing, fields, result = _checked(request, city, form)
    if result.policy is None:
        context = _form_context(request, city, who, fields, editing)
        context["errors"] = _plain(request, result.errors)
        context["uuid"] = key
        return page(request, "console/program_form.html", context, status=422)
    program = editing or str(fields["program"])
    params = {"program": program, "policy": msgspec.to_builtins(result.policy)}
    return _proposed(request, city, who, "define_program", params, key)


@router.post("/c/{city}/console/programs/{program}/mint")
async def propose_mint(request: Request, city: str, program: str, _: Csrf) -> Response:
    """Won received into the trust account, proposed as a mint into the budget."""
    who = _maker(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    reference = forms.text(form, "won_ref", max_length=64)
    if program not in container(request).ledgers.sequencer(city).state.programs:
        raise PageError(404, N_("There is no such page."))
    if amount is None:
        raise PageError(422, N_("Enter the amount received, in whole won."))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", reference):
        raise PageError(422, N_("Enter the trust account's deposit reference (letters, digits)."))
    params = {"program": program, "amount": amount, "won_ref": reference}
    return _proposed(request, city, who, "mint", params, key)


def _proposed(
    request: Request, city: str, who: Principal, kind: str, params: dict[str, Any], key: str
) -> Response:
    try:
        made = container(request).proposals.propose(who, kind, params, key)
    except ProposalError as exc:
        if exc.code == "idempotency_key_reused":
            raise PageError(409, N_("This form was already sent with other values.")) from None
        raise PageError(422, N_("The proposal was refused: check what you entered.")) from None
    return RedirectResponse(f"/c/{city}/console/approvals?made={made.id}", status_code=303)
