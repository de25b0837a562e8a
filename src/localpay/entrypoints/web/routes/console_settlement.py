"""Settlement in the city console: the payout batches and their ISO 20022 files, the
reconciliation (a camt.053 statement uploaded, the exceptions queue in plain words and
a resolution with a note), and the reserve ratio over time (a table and a line drawn
on the server as inline SVG: no chart script needed).

The city's staff read; officials (maker, checker) download files, upload statements
and resolve exceptions (the API's rules, routers/settlement.py)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from localpay.domain.errors import NotFound, Refused
from localpay.domain.limits import BODY_BYTES_MAX
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.services.identity.service import OFFICIAL_ROLES, Principal
from localpay.services.settlement.ports import ReserveProof, XmlRefused
from localpay.services.settlement.service import SettlementService

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]
PROOFS: Final = 60

BATCH_STATUSES: Final = {
    "built": N_("Made, waiting to be sent"),
    "sent": N_("Sent to the bank"),
    "refused": N_("Refused by the bank"),
}
#: Why an entry did not match, in plain words.
EXCEPTION_REASONS: Final = {
    "unknown_entry": N_("The bank booked money the ledger knows nothing about"),
    "amount_mismatch": N_("The amount differs from the ledger's"),
    "already_settled": N_("A payout the bank had already paid appears again"),
    "returned_after_payment": N_("The bank returned a payout it had already paid"),
    "opening_mismatch": N_("The opening balance is not the last statement's closing balance"),
    "credit_seen_before": N_("This deposit was on an earlier statement already"),
}


def _svc(request: Request) -> SettlementService:
    found: SettlementService | None = getattr(container(request), "settlement", None)
    if found is None:
        raise PageError(503, N_("Payouts to bank accounts are not available right now."))
    return found


def _officer(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: p.city == city and p.role in OFFICIAL_ROLES)


@router.get("/c/{city}/console/payouts")
def payout_batches(request: Request, city: str) -> Response:
    who = official(request, city)
    context = {
        **console_context(request, city, who),
        "batches": _svc(request).batches(city, None, 50),
        "statuses": {k: say(request, m) for k, m in BATCH_STATUSES.items()},
        "may_download": who.role in OFFICIAL_ROLES,
    }
    return page(request, "console/settlement_payouts.html", context)


@router.get("/c/{city}/console/payouts/{batch}/file")
def payout_file(request: Request, city: str, batch: str) -> Response:
    _officer(request, city)
    try:
        data = _svc(request).batch_file(city, batch)
    except NotFound:
        raise PageError(404, N_("There is no such payout file.")) from None
    disposition = f'attachment; filename="{batch}.xml"'
    return Response(
        data, media_type="application/xml", headers={"Content-Disposition": disposition}
    )


def _reconciliation(request: Request, city: str, who: Principal) -> dict[str, Any]:
    svc = _svc(request)
    items = svc.exceptions(city, "open")
    return {
        **console_context(request, city, who),
        "exceptions": items,
        "resolved": svc.exceptions(city, "resolved")[:20],
        "reasons": {k: say(request, m) for k, m in EXCEPTION_REASONS.items()},
        "statements": svc.repo.statements(city, 10),
        "may_act": who.role in OFFICIAL_ROLES,
    }


@router.get("/c/{city}/console/reconciliation")
def reconciliation(request: Request, city: str) -> Response:
    who = official(request, city)
    return page(
        request, "console/settlement_reconciliation.html", _reconciliation(request, city, who)
    )


@router.post("/c/{city}/console/reconciliation")
async def import_statement(request: Request, city: str, _: Csrf) -> Response:
    who = _officer(request, city)
    form = await request.form(max_part_size=BODY_BYTES_MAX)
    upload = form.get("file")
    svc, now = _svc(request), container(request).clock()
    extra: dict[str, Any] = {}
    if not isinstance(upload, UploadFile):
        extra["error"] = say(request, "Choose a camt.053 statement file (XML).")
    else:
        data = await upload.read()
        try:
            extra["imported"] = await run_in_threadpool(svc.import_statement, city, data, now)
        except XmlRefused as exc:
            extra["error"] = say(
                request, "The file was refused at line %(line)s: %(reason)s", line=exc.line,
                reason=exc.reason,
            )  # fmt: skip
    context = await run_in_threadpool(_reconciliation, request, city, who)
    status = 422 if "error" in extra else 200
    return page(
        request, "console/settlement_reconciliation.html", {**context, **extra}, status=status
    )


@router.post("/c/{city}/console/reconciliation/{ident}/resolve")
async def resolve(request: Request, city: str, ident: int, _: Csrf) -> Response:
    who = _officer(request, city)
    form = await request.form()
    note = forms.text(form, "note", max_length=500)
    svc = _svc(request)
    try:
        await run_in_threadpool(svc.resolve, city, ident, note)
    except (NotFound, Refused):
        context = await run_in_threadpool(_reconciliation, request, city, who)
        error = say(request, "Say what was done about it: the note is kept with the exception.")
        return page(
            request,
            "console/settlement_reconciliation.html",
            {**context, "error": error},
            status=422,
        )
    return RedirectResponse(f"/c/{city}/console/reconciliation", status_code=303)


# -- reserves -------------------------------------------------------------------------------

WIDTH: Final = 600
HEIGHT: Final = 200
PAD: Final = 24


def ratio_path(proofs: list[ReserveProof]) -> dict[str, Any]:
    """The ratio's line as SVG points, oldest left; the axis from the lowest ratio shown
    (at most 1.0) to the highest (at least 1.0), with the 1.0 line drawn."""
    points = list(reversed(proofs))
    ratios = [p.ratio for p in points]
    low, high = min([*ratios, 1.0]) - 0.01, max([*ratios, 1.0]) + 0.01

    def y(r: float) -> float:
        return round(HEIGHT - PAD - (r - low) / (high - low) * (HEIGHT - 2 * PAD), 1)

    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)
    xy = [(round(PAD + i * step, 1), y(r)) for i, r in enumerate(ratios)]
    return {
        "width": WIDTH, "height": HEIGHT, "points": " ".join(f"{a},{b}" for a, b in xy),
        "dots": xy, "one": y(1.0), "low": low, "high": high,
    }  # fmt: skip


def reserves_context(request: Request, city: str) -> dict[str, Any]:
    proofs = _svc(request).repo.proofs(city, PROOFS)
    return {
        "proofs": proofs,
        "latest": proofs[0] if proofs else None,
        "chart": ratio_path(proofs) if proofs else None,
    }


@router.get("/c/{city}/console/reserves")
def reserves(request: Request, city: str) -> Response:
    who = official(request, city)
    context = {**console_context(request, city, who), **reserves_context(request, city)}
    return page(request, "console/settlement_reserves.html", context)
