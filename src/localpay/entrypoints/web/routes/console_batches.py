"""Disbursements in the city console: upload a file of policy money, read its row-level
report in plain words, submit it for approval, approve it as a second official, and
watch it being paid (the progress block polls while rows are to go).

The rules are the programs service's (services/programs/batches.py): every line is
judged before anything moves; the maker never approves their own batch; the runner
(services/programs/runner.py) pays an approved batch once, and resumes it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from localpay.domain.limits import BODY_BYTES_MAX
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.forms import idempotency_key
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.services.approvals.service import ProposalError, self_held_key
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.programs import rows as v
from localpay.services.programs.batches import BatchError

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

#: Lines of the report per page.
PAGE: Final = 50
#: The largest file taken from the page: the server's one body limit (64 KiB, about 1,500
#: lines; the body-limit middleware refuses more before this route runs). Bigger files go
#: through `localpay batch upload`, which streams them.
MAX_BYTES: Final = BODY_BYTES_MAX
#: How often the progress block refreshes while a batch waits or is paid (seconds).
REFRESH_S: Final = 2

#: Each verdict in plain words.
VERDICTS: Final = {
    v.OK: N_("Valid line"),
    v.MALFORMED: N_("The line is incomplete or its amount is not whole won"),
    v.UNKNOWN_CITIZEN: N_("No such citizen's wallet"),
    v.UNKNOWN_PROGRAM: N_("No such program"),
    v.OTHER_PROGRAM: N_("Another program than the file's first line"),
    v.DUPLICATE: N_("The same citizen and reference appear earlier in this file"),
    v.ALREADY_PAID: N_("Already in an earlier batch"),
    v.NOT_JUDGED: N_("No eligibility decision for this citizen"),
    v.INELIGIBLE: N_("Not eligible under the program's rules"),
    v.OVER_CAP: N_("More than the program allows one person in this period"),
    v.BUDGET_SHORT: N_("The program's budget does not cover this line"),
}
STATUSES: Final = {
    "draft": N_("Not submitted yet"),
    "empty": N_("No valid line: nothing to approve"),
    "submitted": N_("Waiting for a second official's approval"),
    "approved": N_("Approved: being paid"),
    "done": N_("Done"),
}
REFUSALS: Final = {
    "same_official": N_("A different official must approve a batch: not the one who made it."),
    "forbidden": N_("Only a checker approves another official's batch."),
    "signature_required": N_("You hold your own key: approve with the command shown."),
    "proposal_decided": N_("This batch's approval was already decided."),
}


def _maker(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: access.proposes(p, city))


def _checker(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: access.approves(p, city))


@router.get("/c/{city}/console/batches")
def batches(request: Request, city: str) -> Response:
    who = official(request, city)
    box = container(request)
    listed = box.batches.recent(city)
    context = {
        **console_context(request, city, who),
        "batches": listed,
        "uuid": uuid.uuid4().hex,
        "statuses": {k: say(request, m) for k, m in STATUSES.items()},
        "progress": {b.id: box.batches.progress(city, b.id).status for b in listed},
        "refused": say(request, _flash(request.query_params.get("refused", ""))),
    }
    return page(request, "console/batches.html", context)


def _flash(code: str) -> str:
    if code == "file":
        return N_("Choose a CSV file with the header citizen,amount,program,reference.")
    return REFUSALS.get(code, "") or ""


@router.post("/c/{city}/console/batches")
async def upload(request: Request, city: str, _: Csrf) -> Response:
    who = _maker(request, city)
    form = await request.form(max_part_size=MAX_BYTES)
    key = idempotency_key(form)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return RedirectResponse(f"/c/{city}/console/batches?refused=file", status_code=303)
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PageError(413, N_("The file is too large for this page: use localpay batch upload."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PageError(422, N_("The file is not UTF-8 text: save it as CSV UTF-8.")) from None
    name = file.filename
    box = container(request)
    try:
        report = await run_in_threadpool(
            box.batches.upload, who, name, text.splitlines(keepends=True), key
        )
    except BatchError:
        return RedirectResponse(f"/c/{city}/console/batches?refused=file", status_code=303)
    return RedirectResponse(f"/c/{city}/console/batches/{report.batch.id}", status_code=303)


def _report(request: Request, city: str, batch: str) -> dict[str, Any]:
    who = official(request, city)
    box = container(request)
    report = box.batches.report(city, batch)
    offset = _offset(request)
    bad = box.batches.lines(city, batch, offset, PAGE, bad_only=True)
    bad_total = report.batch.lines - report.verdicts.get(v.OK, 0)
    return {
        **console_context(request, city, who),
        "report": report,
        "p": report.progress,
        "status": say(request, STATUSES[report.progress.status]),
        "counts": [
            (say(request, VERDICTS[k]), report.verdicts[k], k)
            for k in v.VERDICTS
            if report.verdicts.get(k)
        ],
        "bad": [(x, say(request, VERDICTS.get(x.verdict, v.MALFORMED))) for x in bad],
        "offset": offset,
        "next_offset": offset + PAGE if offset + PAGE < bad_total else None,
        "prev_offset": max(offset - PAGE, 0) if offset else None,
        "self_held": self_held_key(who) is not None,
        "base_url": str(request.base_url).rstrip("/"),
        "refresh_s": REFRESH_S,
        "refused": say(request, _flash(request.query_params.get("refused", ""))),
    }


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return int(raw) if raw.isdigit() and len(raw) < 9 else 0


@router.get("/c/{city}/console/batches/{batch}")
def report(request: Request, city: str, batch: str) -> Response:
    return page(request, "console/batch.html", _report(request, city, batch))


@router.get("/c/{city}/console/batches/{batch}/progress")
def progress(request: Request, city: str, batch: str) -> Response:
    """The progress block alone, for the page's polling."""
    return page(request, "console/batch.html", _report(request, city, batch), block="progress")


@router.post("/c/{city}/console/batches/{batch}/submit")
def submit(request: Request, city: str, batch: str, _: Csrf) -> Response:
    who = _maker(request, city)
    back = f"/c/{city}/console/batches/{batch}"
    try:
        container(request).batches.submit(who, batch)
    except BatchError:
        return RedirectResponse(f"{back}?refused=forbidden", status_code=303)
    return RedirectResponse(back, status_code=303)


@router.post("/c/{city}/console/batches/{batch}/approve")
def approve(request: Request, city: str, batch: str, _: Csrf) -> Response:
    """The checker's signature (custodial key) on the batch's proposal; the runner is
    woken to pay it."""
    who = _checker(request, city)
    box = container(request)
    found = box.batches.progress(city, batch)
    back = f"/c/{city}/console/batches/{batch}"
    if not found.proposal:
        return RedirectResponse(f"{back}?refused=forbidden", status_code=303)
    try:
        box.proposals.approve(who, found.proposal)
    except ProposalError as exc:
        code = exc.code if exc.code in REFUSALS else "forbidden"
        return RedirectResponse(f"{back}?refused={code}", status_code=303)
    box.batch_runner.wake()
    return RedirectResponse(back, status_code=303)
