"""Policy money over HTTP: the city's eligibility data, disbursement batches (upload as
text/csv, the row-level report, submission for approval, progress). services/programs
does the work; the approval itself is the proposals API (`/proposals/{id}/approve`).

Request bodies are bounded by the API's one body limit (domain/limits.BODY_BYTES_MAX):
a file larger than that goes through `localpay batch upload` on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from localpay.entrypoints.api.deps import allow, container_of, known_city
from localpay.entrypoints.api.problems import ApiProblem, api_problem, responses
from localpay.entrypoints.api.routers.commands import ledger_errors
from localpay.services.approvals.service import ProposalError
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.programs.batches import BatchError, Batches, NotApproved
from localpay.services.programs.evidence import EligibilityData, EvidenceFileError, NotJudged

router = APIRouter(tags=["policy money"])

CSV_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


class DecidedOut(BaseModel):
    loaded: int = Field(description="citizens' data kept sealed")
    eligible: int = Field(description="decided eligible (the data then deleted)")
    ineligible: int


class ProgressOut(BaseModel):
    batch: str
    status: str = Field(description="draft, empty, submitted, approved or done")
    rows: int
    total: int
    paid: int
    refused: int
    to_go: int
    proposal: str = Field(description="the approve_batch proposal, empty until submitted")


class BatchOut(BaseModel):
    id: str
    program: str
    file_name: str
    lines: int
    rows: int = Field(description="valid lines: the batch")
    total: int
    root: str = Field(description="RFC 9162 Merkle root of the rows' leaves (hex)")
    verdicts: dict[str, int] = Field(description="lines per verdict (ok, duplicate, ...)")
    progress: ProgressOut


class LineOut(BaseModel):
    line: int
    row: int = Field(description="its number in the batch, -1 unless valid")
    wallet: str
    amount: int
    program: str
    reference: str
    verdict: str
    outcome: str = Field(description="the ledger's code for a refused row, else empty")


def _services(request: Request, city: str) -> tuple[Batches, EligibilityData]:
    container = container_of(request)
    known_city(container, city)
    return container.batches, container.eligibility


def _json(call: Callable[[], Any], status: int = 200) -> Response:
    """The service's answer; its refusals as problems that say what is wrong."""
    try:
        with ledger_errors():
            result = call()
    except (BatchError, EvidenceFileError, NotJudged) as exc:
        return api_problem("validation_failed", str(exc))
    except NotApproved as exc:
        return api_problem("conflict", str(exc))
    except ProposalError as exc:
        raise ApiProblem(exc.code if exc.code == "not_found" else "forbidden", str(exc)) from None
    return JSONResponse(msgspec.to_builtins(result), status_code=status)


async def _csv_lines(request: Request) -> list[str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain"):
        raise ApiProblem("unsupported_media_type", "send the file as text/csv")
    try:
        return (await request.body()).decode("utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise ApiProblem("validation_failed", "the file is not UTF-8 text") from None


def _maker(request: Request, city: str) -> Principal:
    return allow(request, lambda p: access.proposes(p, city))


def _reader(request: Request, city: str) -> Principal:
    return allow(request, lambda p: access.reads_proposals(p, city))


def _batch_out(report: Any) -> dict[str, Any]:
    b = report.batch
    return {
        "id": b.id, "program": b.program, "file_name": b.file_name, "lines": b.lines,
        "rows": b.rows, "total": b.total, "root": b.root, "verdicts": report.verdicts,
        "progress": msgspec.to_builtins(report.progress),
    }  # fmt: skip


_OFFICIAL = ("unauthenticated", "forbidden", "not_found")


@router.post(
    "/v1/cities/{city}/programs/{program}/eligibility",
    summary="Load the city's data on citizens for a program's eligibility (sealed)",
    description="text/csv `citizen,birth,residence,employment` (residence: ISO intervals"
    " joined by `;`, e.g. `2015-03-01/2020-02-28;2021-01-01/`). The whole file or nothing;"
    " with `decide` (default) each citizen is judged at `on` (default today, KST), the"
    " decision and a salted hash kept and the data deleted.",
    response_model=DecidedOut,
    openapi_extra=CSV_BODY,
    responses=responses(*_OFFICIAL, "validation_failed", "unsupported_media_type"),
)
async def load_eligibility(
    request: Request,
    city: str,
    program: str,
    decide: bool = True,
    on: Annotated[date | None, Query(description="decision date, e.g. 2026-12-01")] = None,
) -> Response:
    _maker(request, city)
    _, data = _services(request, city)
    lines = await _csv_lines(request)

    def call() -> dict[str, int]:
        loaded = data.load(city, program, lines)
        decided = data.decide(city, program, on) if decide else None
        return {
            "loaded": loaded,
            "eligible": decided.eligible if decided else 0,
            "ineligible": decided.ineligible if decided else 0,
        }

    return await run_in_threadpool(_json, call)  # judging a file is work: off the loop


@router.post(
    "/v1/cities/{city}/batches",
    summary="Upload a disbursement file: every line judged, nothing paid",
    description="text/csv `citizen,amount,program,reference`. The batch's program is the"
    " first line's. The same Idempotency-Key gives the same batch.",
    status_code=201,
    response_model=BatchOut,
    openapi_extra=CSV_BODY,
    responses=responses(*_OFFICIAL, "validation_failed", "unsupported_media_type"),
)
async def upload(
    request: Request, city: str, name: Annotated[str, Query(max_length=120)] = "batch.csv"
) -> Response:
    who = _maker(request, city)
    batches, _ = _services(request, city)
    lines = await _csv_lines(request)
    key = request.headers["idempotency-key"]  # the middleware refused a POST without one
    return await run_in_threadpool(
        _json, lambda: _batch_out(batches.upload(who, name, lines, key)), 201
    )


@router.get(
    "/v1/cities/{city}/batches/{batch}",
    summary="A batch's report: lines per verdict, total, progress",
    response_model=BatchOut,
    responses=responses(*_OFFICIAL),
)
def show(request: Request, city: str, batch: str) -> Response:
    _reader(request, city)
    batches, _ = _services(request, city)
    return _json(lambda: _batch_out(batches.report(city, batch)))


@router.get(
    "/v1/cities/{city}/batches/{batch}/lines",
    summary="A batch's lines with their verdicts, in file order (paginated)",
    response_model=list[LineOut],
    responses=responses(*_OFFICIAL),
)
def lines(
    request: Request,
    city: str,
    batch: str,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    bad: Annotated[bool, Query(description="only the lines that are not valid")] = False,
) -> Response:
    _reader(request, city)
    batches, _ = _services(request, city)

    def call() -> list[dict[str, Any]]:
        found = batches.lines(city, batch, offset, limit, bad)
        return [
            {
                "line": x.line,
                "row": x.row,
                "wallet": x.wallet,
                "amount": x.amount,
                "program": x.program,
                "reference": x.reference,
                "verdict": x.verdict,
                "outcome": x.outcome,
            }
            for x in found
        ]

    return _json(call)


@router.post(
    "/v1/cities/{city}/batches/{batch}/submit",
    summary="Propose the batch's approval (approve_batch); a second official approves it",
    response_model=ProgressOut,
    responses=responses(*_OFFICIAL, "validation_failed"),
)
def submit(request: Request, city: str, batch: str) -> Response:
    who = _maker(request, city)
    batches, _ = _services(request, city)
    return _json(lambda: batches.submit(who, batch))


@router.get(
    "/v1/cities/{city}/batches/{batch}/progress",
    summary="Rows paid, refused by the ledger and to go",
    response_model=ProgressOut,
    responses=responses(*_OFFICIAL),
)
def progress(request: Request, city: str, batch: str) -> Response:
    _reader(request, city)
    batches, _ = _services(request, city)
    return _json(lambda: batches.progress(city, batch))
