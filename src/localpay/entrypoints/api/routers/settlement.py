"""Settlement over HTTP (docs/settlement.md): a shop's instant payout to its bank account,
its payouts and its payout account; the city's payout batches and their ISO 20022 files,
bank statements (camt.053) uploaded and reconciled, the exceptions queue; the public
proof of reserves.

Who: the instant payout is the shop's owner or its API key (to the account on file only:
the account itself is changed by the owner, a person); a shop's payouts are read by its
staff and the city's staff; batches and exceptions by the city's staff; the files, the
statements and the resolutions by officials (maker, checker); the reserves by anyone.
A person of another city gets 404 (deps.allow), so ids never cross tenants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.domain.errors import LocalpayError
from localpay.domain.limits import BODY_BYTES_MAX
from localpay.entrypoints.api.deps import allow, container_of, known_city
from localpay.entrypoints.api.problems import ApiProblem, ledger_problem, problem, responses
from localpay.services.identity import access
from localpay.services.identity.service import CITY_STAFF, OFFICIAL_ROLES, Principal
from localpay.services.settlement.ports import (
    BatchLine,
    PayoutBatch,
    ReconException,
    ReserveProof,
    StoredAccount,
    XmlRefused,
)
from localpay.services.settlement.ports import Party as BankParty
from localpay.services.settlement.service import (
    NoPayoutAccount,
    PayoutRefused,
    SettlementService,
)
from localpay.services.settlement.views import mask_name, mask_number

router = APIRouter(tags=["settlement"])
T = TypeVar("T")

MERCHANT: Final = "/v1/cities/{city}/merchants/{merchant}"
CITY: Final = "/v1/cities/{city}"
#: Who may turn a shop's balance into won on its account on file: the owner, or the
#: shop's server with its API key (the merchant API); never a cashier.
PAYERS: Final = frozenset({"merchant_owner", "merchant_api"})

Won = Annotated[StrictInt, Field(gt=0, le=10_000_000_000)]


# -- who ------------------------------------------------------------------------------------


def _payer(p: Principal, city: str, merchant: str) -> bool:
    return p.city == city and p.role in PAYERS and p.merchant == merchant


def _staff(p: Principal, city: str) -> bool:
    return p.city == city and p.role in CITY_STAFF


def _official(p: Principal, city: str) -> bool:
    return p.city == city and p.role in OFFICIAL_ROLES


def _service(request: Request) -> SettlementService:
    found: SettlementService | None = getattr(container_of(request), "settlement", None)
    if found is None:
        raise ApiProblem("unavailable", "settlement is not configured on this server")
    return found


async def _run(call: Callable[[], T]) -> T | Response:
    """A service call; a ledger refusal of a payout (or no account on file) answers with
    the ledger's own code as its problem, so clients branch on it."""
    try:
        return await run_in_threadpool(call)
    except PayoutRefused as exc:
        return ledger_problem(exc.code, str(exc))
    except NoPayoutAccount as exc:
        return ledger_problem("payout_account_missing", str(exc))


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


# -- schemas --------------------------------------------------------------------------------


class InstantIn(BaseModel):
    amount: Won = Field(description="whole won of the shop's balance to pay out now")


class LineOut(BaseModel):
    payout: str = Field(description="the payout's id on the chain (the file's EndToEndId)")
    owner: str
    owner_kind: str = Field(description="merchant or wallet")
    amount: int
    status: str = Field(description="sent, paid (booked on a statement) or returned")
    reason: str = Field(description="a return's ISO 20022 reason code, e.g. AC04")
    bank_ref: str = Field(description="the statement entry that paid it")


class BatchOut(BaseModel):
    id: str = Field(description="the file's MsgId")
    kind: str = Field(description="instant or daily")
    execution: dt.date = Field(description="the business day the bank pays it")
    created_ms: int
    status: str = Field(description="built (waiting to be sent), sent, or refused")
    total: int
    detail: str
    lines: list[LineOut]


class BatchesOut(BaseModel):
    items: list[BatchOut]


class AccountIn(BaseModel):
    bank: Annotated[str, Field(pattern=r"^[0-9]{3}$", description="the bank's 3-digit code")]
    number: Annotated[
        str,
        Field(
            pattern=r"^[0-9][0-9-]{5,22}[0-9]$",
            description="the account number (digits, dashes allowed and dropped)",
        ),
    ]
    holder: Annotated[str, Field(min_length=1, max_length=70, description="as the bank has it")]


class AccountOut(BaseModel):
    bank: str
    number: str = Field(description="masked: only the last 4 digits are shown")
    holder: str = Field(description="masked: first and last letters only")
    digest: str = Field(description="the keyed digest named on the chain")


class ExceptionOut(BaseModel):
    id: int
    statement_id: str
    bank_ref: str
    end_to_end: str
    direction: str = Field(description="CRDT (won in) or DBIT (won out)")
    amount: int
    reason: str = Field(description="unknown_entry, amount_mismatch, opening_mismatch, …")
    detail: str
    line: int = Field(description="the entry's line in the statement file")
    status: str
    note: str


class ExceptionsOut(BaseModel):
    items: list[ExceptionOut]


class ResolutionIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=500, description="what was done")]


class StatementOut(BaseModel):
    statement_id: str
    day: dt.date
    opening: int
    closing: int
    entries: int
    matched: int
    exceptions: int


class ProofOut(BaseModel):
    size: int = Field(description="the checkpoint's log size")
    root: str = Field(description="the checkpoint's root hash (hex)")
    at_ms: int
    supply: int = Field(description="units in existence (outstanding + in transit)")
    in_transit: int = Field(description="units of payouts whose won have not left yet")
    trust: int = Field(description="the trust account's last reconciled closing balance")
    statement_day: dt.date | None
    unbooked: int = Field(description="won the chain counts that no statement has shown yet")
    shortfall: int = Field(description="won missing (0 when backed)")
    ratio: float = Field(description="(trust + unbooked) / supply; 1.0 fully backed")


class ProofsOut(BaseModel):
    items: list[ProofOut]


def _line(line: BatchLine) -> LineOut:
    return LineOut(
        payout=line.payout, owner=line.owner, owner_kind=line.owner_kind, amount=line.amount,
        status=line.status, reason=line.reason, bank_ref=line.bank_ref,
    )  # fmt: skip


def _batch(batch: PayoutBatch, owner: str | None = None) -> BatchOut:
    lines = [line for line in batch.lines if owner is None or line.owner == owner]
    return BatchOut(
        id=batch.id, kind=batch.kind, execution=batch.execution, created_ms=batch.created_ms,
        status=batch.status, total=sum(line.amount for line in lines), detail=batch.detail,
        lines=[_line(line) for line in lines],
    )  # fmt: skip


def _account(stored: StoredAccount) -> AccountOut:
    party = stored.party
    return AccountOut(
        bank=party.bank,
        number=mask_number(party.account),
        holder=mask_name(party.name),
        digest=stored.digest,
    )


def _exception(item: ReconException) -> ExceptionOut:
    return ExceptionOut(
        id=item.id, statement_id=item.statement_id, bank_ref=item.bank_ref,
        end_to_end=item.end_to_end, direction=item.direction, amount=item.amount,
        reason=item.reason, detail=item.detail, line=item.line, status=item.status,
        note=item.note,
    )  # fmt: skip


def proof_out(proof: ReserveProof) -> ProofOut:
    return ProofOut(
        size=proof.size, root=proof.root, at_ms=proof.at_ms, supply=proof.supply,
        in_transit=proof.in_transit, trust=proof.trust, statement_day=proof.statement_day,
        unbooked=proof.unbooked, shortfall=proof.shortfall, ratio=proof.ratio,
    )  # fmt: skip


def _now(request: Request) -> int:
    return int(container_of(request).clock())


_MERCHANT_ERRORS = ("unauthenticated", "forbidden", "not_found", "validation_failed")


# -- a shop's payouts -----------------------------------------------------------------------


@router.post(
    MERCHANT + "/payouts",
    status_code=201,
    response_model=BatchOut,
    response_class=Response,
    summary="Pay part of the shop's balance to its bank account now (owner or API key)",
    description=(
        "The payout moves the units to settlement in transit and sends a one-line ISO 20022"
        " pain.001 file to the trust account's bank at once; the bank's booking burns them,"
        " a rejection returns them. The same Idempotency-Key is the same payout."
    ),
    responses=responses(
        *_MERCHANT_ERRORS, "insufficient_funds", "payout_account_missing", "unavailable"
    ),
)
async def instant(request: Request, city: str, merchant: str, body: InstantIn) -> Response:
    allow(request, lambda p: _payer(p, city, merchant))
    key = request.headers["idempotency-key"]  # the middleware refuses a POST without one
    svc, now = _service(request), _now(request)
    found = await _run(lambda: svc.instant(city, merchant, body.amount, key, now))
    return found if isinstance(found, Response) else _json(_batch(found), 201)


@router.get(
    MERCHANT + "/payouts",
    summary="The shop's payouts to its bank account, newest first (its staff, the city's)",
    responses=responses(*_MERCHANT_ERRORS),
)
def merchant_payouts(
    request: Request, city: str, merchant: str, limit: int = Query(50, ge=1, le=200)
) -> BatchesOut:
    allow(request, lambda p: access.reads_merchant(p, city, merchant))
    found = _service(request).batches(city, merchant, limit)
    return BatchesOut(items=[_batch(b, merchant) for b in found])


@router.put(
    MERCHANT + "/payout-account",
    response_model=AccountOut,
    response_class=Response,
    summary="Register the shop's bank account for payouts (owner only); answered masked",
    responses=responses(*_MERCHANT_ERRORS, "unavailable"),
)
async def put_account(request: Request, city: str, merchant: str, body: AccountIn) -> Response:
    allow(request, lambda p: access.pays_out(p, city, merchant))
    svc, now = _service(request), _now(request)
    party = BankParty(body.holder.strip(), body.bank, body.number.replace("-", ""))
    found = await _run(lambda: svc.register_account(city, merchant, party, now))
    if isinstance(found, Response):
        return found
    stored = svc.account_of(city, merchant)
    assert stored is not None
    return _json(_account(stored))


@router.get(
    MERCHANT + "/payout-account",
    summary="The shop's payout account, masked (its owner, the city's staff)",
    responses=responses(*_MERCHANT_ERRORS),
)
def get_account(request: Request, city: str, merchant: str) -> AccountOut:
    allow(request, lambda p: access.pays_out(p, city, merchant) or _staff(p, city))
    stored = _service(request).account_of(city, merchant)
    if stored is None:
        raise ApiProblem("not_found", f"{merchant!r} has no payout account on file")
    return _account(stored)


# -- the city's batches, statements and exceptions ------------------------------------------


@router.get(
    CITY + "/payout-batches",
    summary="The city's payout files, newest first (the city's staff)",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def batches(request: Request, city: str, limit: int = Query(50, ge=1, le=200)) -> BatchesOut:
    allow(request, lambda p: _staff(p, city))
    return BatchesOut(items=[_batch(b) for b in _service(request).batches(city, None, limit)])


@router.get(
    CITY + "/payout-batches/{batch_id}",
    summary="One payout file and its lines (the city's staff)",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def batch(request: Request, city: str, batch_id: str) -> BatchOut:
    allow(request, lambda p: _staff(p, city))
    return _batch(_service(request).batch(city, batch_id))


@router.get(
    CITY + "/payout-batches/{batch_id}/file",
    summary="The payout file as sent to the bank: ISO 20022 pain.001.001.09 (officials)",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "the file"},
        **responses("unauthenticated", "forbidden", "not_found"),
    },
)
def batch_file(request: Request, city: str, batch_id: str) -> Response:
    allow(request, lambda p: _official(p, city))
    data = _service(request).batch_file(city, batch_id)
    disposition = f'attachment; filename="{batch_id}.xml"'
    return Response(
        data, media_type="application/xml", headers={"Content-Disposition": disposition}
    )


@router.post(
    CITY + "/statements",
    status_code=201,
    response_model=StatementOut,
    response_class=Response,
    summary="Upload a camt.053.001.08 statement of the trust account; reconciled at once",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/xml": {"schema": {}}}}
    },
    responses=responses("unauthenticated", "forbidden", "not_found", "refused"),
)
async def statement(request: Request, city: str) -> Response:
    allow(request, lambda p: _official(p, city))
    known_city(container_of(request), city)
    data = await request.body()
    if len(data) > BODY_BYTES_MAX:
        raise ApiProblem("body_too_large")
    svc, now = _service(request), _now(request)
    try:
        record = await run_in_threadpool(svc.import_statement, city, data, now)
    except XmlRefused as exc:
        return problem(
            422, exc.code, "the file is not a valid, safe camt.053 statement", str(exc),
            line=exc.line, reason=exc.reason,
        )  # fmt: skip
    out = StatementOut(
        statement_id=record.statement_id, day=record.day, opening=record.opening,
        closing=record.closing, entries=record.entries, matched=record.matched,
        exceptions=record.exceptions,
    )  # fmt: skip
    return _json(out, 201)


@router.get(
    CITY + "/reconciliation/exceptions",
    summary="Statement entries that did not match the ledger (the city's staff)",
    responses=responses("unauthenticated", "forbidden", "not_found", "validation_failed"),
)
def exceptions(
    request: Request,
    city: str,
    status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
) -> ExceptionsOut:
    allow(request, lambda p: _staff(p, city))
    found = _service(request).exceptions(city, None if status == "all" else status)
    return ExceptionsOut(items=[_exception(e) for e in found])


@router.post(
    CITY + "/reconciliation/exceptions/{exception_id}/resolution",
    status_code=204,
    response_class=Response,
    summary="Resolve an exception with a note of what was done (officials)",
    responses=responses("unauthenticated", "forbidden", "not_found", "validation_failed"),
)
async def resolve(request: Request, city: str, exception_id: int, body: ResolutionIn) -> Response:
    allow(request, lambda p: _official(p, city))
    svc = _service(request)
    try:
        await run_in_threadpool(svc.resolve, city, exception_id, body.note)
    except LocalpayError as exc:
        if exc.code == "not_found":
            raise ApiProblem("not_found", str(exc)) from None
        raise
    return Response(status_code=204)


# -- the public proof -----------------------------------------------------------------------


@router.get(
    CITY + "/reserves",
    summary="Proof of reserves at the latest checkpoints: units against won in trust (public)",
    responses=responses("not_found"),
)
def reserves(request: Request, city: str, limit: int = Query(30, ge=1, le=365)) -> ProofsOut:
    known_city(container_of(request), city)
    proofs = _service(request).repo.proofs(city, limit)
    return ProofsOut(items=[proof_out(p) for p in proofs])
