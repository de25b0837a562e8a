"""A program version drafted in a form: typed fields in, a Policy (or what is wrong with
which field) out. The console's pages and its tests share it; the API and the CLI take
the Policy as JSON instead.

Messages are fixed English texts (the pages translate them): a field's own fault, or
the ledger's checkers (`check_policy`, `conditions.compile_error`) placed next to the
field they are about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeVar

import msgspec

from localpay.domain.policy import Grant, Policy, Sale, check_policy, default_sale
from localpay.ledger import conditions

NOT_WHOLE: Final = "Enter a whole number (0 for no limit)."
BAD_LABEL: Final = "Use lower-case letters, digits and - _ . only."
NEEDED: Final = "This is needed."
TOO_LONG: Final = "This is too long."

#: The form's fields holding whole numbers (won, days, percent...), by section.
NUMBERS: Final = (
    "revenue_cap",
    "valid_days",
    "per_payment_cap",
    "daily_cap",
    "monthly_cap",
    "holding_cap",
)
SALE_NUMBERS: Final = (
    "rate_bp",
    "monthly_limit",
    "bonus_monthly_cap",
    "cashback_cap",
    "cancel_days",
    "refund_used_percent",
    "order_minutes",
)
GRANT_NUMBERS: Final = (
    "per_person",
    "min_age",
    "max_age",
    "residence_years",
    "residence_total_years",
)

T = TypeVar("T")
Fields = Mapping[str, str | list[str]]


def _one(fields: Fields, name: str) -> str:
    value = fields.get(name, "")
    return (value[-1] if value else "") if isinstance(value, list) else value.strip()


def _many(fields: Fields, name: str) -> list[str]:
    value = fields.get(name, [])
    items = value if isinstance(value, list) else value.replace(",", " ").split()
    return sorted({v.strip() for v in items if v.strip()})


def _whole(text: str) -> int | None:
    raw = text.replace(",", "").strip() or "0"
    return int(raw) if raw.isdigit() and len(raw) <= 16 else None


class Draft(msgspec.Struct):
    policy: Policy | None
    #: field name -> message; "" key for a fault of the whole version.
    errors: dict[str, str]


def draft(fields: Fields) -> Draft:
    """The version the form describes, checked as the ledger will check it."""
    errors: dict[str, str] = {}
    numbers = _numbers(fields, NUMBERS, errors)
    name = _one(fields, "name")
    if not name:
        errors["name"] = NEEDED
    elif len(name) > 80:
        errors["name"] = TOO_LONG
    condition = _one(fields, "condition")
    if len(condition) > 1024:
        errors["condition"] = TOO_LONG
    sale = _sale(fields, errors) if _one(fields, "sale_on") else None
    grant = _grant(fields, errors) if _one(fields, "grant_on") else None
    if errors:
        return Draft(None, errors)
    try:
        policy = msgspec.convert(
            dict(
                name=name,
                allowed_categories=_many(fields, "allowed_categories"),
                denied_categories=_many(fields, "denied_categories"),
                areas=_many(fields, "areas"),
                valid_until=_one(fields, "valid_until"),
                transferable=bool(_one(fields, "transferable")),
                refundable=bool(_one(fields, "refundable")),
                sale=sale,
                grant=grant,
                condition=condition,
                engine=conditions.ENGINE if condition else "",
                **numbers,
            ),
            Policy,
        )
    except msgspec.ValidationError as exc:
        return Draft(None, {_field_of(str(exc)): str(exc)})
    problem = check_policy(policy)
    if problem is not None:
        return Draft(None, {_field_of(problem): problem})
    checker = conditions.compile_error(policy)  # the CEL checker's own message
    if checker is not None:
        return Draft(None, {"condition": checker})
    return Draft(policy, {})


def _numbers(fields: Fields, names: tuple[str, ...], errors: dict[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in names:
        value = _whole(_one(fields, name))
        if value is None:
            errors[name] = NOT_WHOLE
        else:
            found[name] = value
    return found


def _sale(fields: Fields, errors: dict[str, str]) -> Sale | None:
    numbers = _numbers(fields, SALE_NUMBERS, errors)
    if any(n in errors for n in SALE_NUMBERS):
        return None
    # Blank numbers of a sale take the PRODUCT.md defaults, not "no limit".
    defaults = msgspec.structs.asdict(default_sale())
    given = {n: v for n, v in numbers.items() if _one(fields, n)}
    chosen = {**defaults, **given, "mode": _one(fields, "mode") or defaults["mode"]}
    chosen["when_budget_out"] = _one(fields, "when_budget_out") or defaults["when_budget_out"]
    return _convert(Sale, chosen, "sale", errors)


def _grant(fields: Fields, errors: dict[str, str]) -> Grant | None:
    numbers = _numbers(fields, GRANT_NUMBERS, errors)
    if any(n in errors for n in GRANT_NUMBERS):
        return None
    employment = _many(fields, "employment")
    chosen = {**numbers, "period": _one(fields, "period") or "once", "employment": employment}
    return _convert(Grant, chosen, "grant", errors)


def _convert(
    kind: type[T], values: dict[str, object], section: str, errors: dict[str, str]
) -> T | None:
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        errors[_field_of(str(exc), section)] = str(exc)
        return None


#: Words of the checkers' messages -> the field the message is shown beside.
_PLACES: Final[tuple[tuple[str, str], ...]] = (
    ("condition", "condition"),
    ("engine", "condition"),
    ("whole numbers only", "condition"),
    ("true or false", "condition"),
    ("daily cap", "daily_cap"),
    ("category", "allowed_categories"),
    ("areas", "areas"),
    ("valid_until", "valid_until"),
    ("valid_days", "valid_days"),
    ("employment", "employment"),
    ("age", "min_age"),
    ("period", "period"),
    ("sale mode", "mode"),  # before "cashback": its message names the modes
    ("when_budget_out", "when_budget_out"),
    ("cashback", "cashback_cap"),
    ("rate", "rate_bp"),
    ("caps", "revenue_cap"),
)


def _field_of(message: str, default: str = "") -> str:
    """The form field a message is about ("" for the whole version)."""
    # msgspec names the path: "Expected ... - at `$.sale.rate_bp`".
    if "`$." in message:
        return message.rsplit("`$.", 1)[1].rstrip("`").split(".")[-1].split("[")[0]
    for words, field in _PLACES:
        if words in message:
            return field
    return default


def fields_of(policy: Policy) -> dict[str, str | list[str]]:
    """A version as the form's fields: editing starts from the current version."""
    found: dict[str, str | list[str]] = {
        "name": policy.name,
        "allowed_categories": list(policy.allowed_categories),
        "denied_categories": list(policy.denied_categories),
        "areas": list(policy.areas),
        "valid_until": policy.valid_until,
        "transferable": "1" if policy.transferable else "",
        "refundable": "1" if policy.refundable else "",
        "condition": policy.condition,
    }
    for name in NUMBERS:
        found[name] = str(getattr(policy, name))
    _into(found, "sale_on", policy.sale, ("mode", "when_budget_out", *SALE_NUMBERS))
    _into(found, "grant_on", policy.grant, ("period", *GRANT_NUMBERS))
    if policy.grant is not None:
        found["employment"] = " ".join(policy.grant.employment)
    return found


def _into(
    found: dict[str, str | list[str]], switch: str, part: object, names: tuple[str, ...]
) -> None:
    found[switch] = "1" if part is not None else ""
    for name in names:
        found[name] = str(getattr(part, name)) if part is not None else ""
