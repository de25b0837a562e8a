"""The merchant registry over HTTP: a shop applies (public), follows its application by
its status token, officials decide (maker-checker), suspend and reinstate; eligibility
per program for officials and the shop's own staff. services/registry does the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictInt

from localpay.entrypoints.api.deps import allow, container_of, known_city
from localpay.entrypoints.api.problems import ApiProblem, api_problem, ledger_problem, responses
from localpay.entrypoints.api.routers.commands import ledger_errors
from localpay.services.approvals.service import ProposalError
from localpay.services.identity import access
from localpay.services.registry.forms import ApplicationForm, BadField
from localpay.services.registry.service import SUSPEND_REASONS, Barred, Registry
from localpay.services.registry.throttle import TooManyApplications

router = APIRouter(tags=["merchant registry"])


class ApplicationIn(BaseModel):
    brn: str = Field(description="사업자등록번호, with or without hyphens: 123-45-67890")
    name: str = Field(description="the trading name in Korean")
    name_en: str = Field(description="the trading name romanized")
    industry: str = Field(description="an industry code of the registry's mapping, e.g. 56191")
    area: str = Field(description="the neighbourhood's label (읍·면·동), e.g. gurae-dong")
    annual_revenue: Annotated[StrictInt, Field(ge=0, description="declared, in won")]
    bank: str = Field(description="the bank's 3-digit code, e.g. 004")
    account_number: str = Field(description="never stored in the clear, shown masked")
    account_holder: str
    owner_username: str = Field(description="the owner's log-in for the counter screen")
    owner_password: str = Field(description="at least 12 characters")


class SubmittedOut(BaseModel):
    application: str
    merchant: str
    status: str
    token: str = Field(description="the applicant's status token (keep it: it is the way back)")


class EligibilityOut(BaseModel):
    program: str
    name: str
    eligible: bool
    code: str = Field(description="ok, category_denied, area_denied or revenue_cap_exceeded")
    has_condition: bool


class ApplicationOut(BaseModel):
    id: str
    status: str = Field(description="pending, approved or refused")
    merchant: str
    name: str
    name_en: str
    industry: str
    industry_name: str
    category: str
    area: str
    annual_revenue: int
    revenue_tier: str
    account: str = Field(description="masked, e.g. 국민 ****-**-**1234")
    owner_username: str
    reason: str
    created_ms: int
    decided_ms: int
    chain_status: str
    barred_until_ms: int
    eligibility: list[EligibilityOut]
    brn: str | None = Field(None, description="officials only")


class ProposalOut(BaseModel):
    id: str
    kind: str
    status: str
    maker: str
    signed_by: list[str]
    receipt: dict[str, Any] | None


class MerchantOut(BaseModel):
    merchant: str
    name: str
    category: str
    area: str
    annual_revenue: int
    status: str
    barred_until_ms: int
    pending: list[ProposalOut]


class RefusalIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class SuspensionIn(BaseModel):
    reason: str = Field(description=f"one of {', '.join(SUSPEND_REASONS)}")


def _registry(request: Request, city: str) -> Registry:
    container = container_of(request)
    known_city(container, city)
    registry: Registry = container.registry
    return registry


def _answer(call: Callable[[], Any], status: int = 200, secret: bool = False) -> Response:
    """The service's answer as JSON; its refusals as problems that name the field, the
    bar's end or the wait."""
    try:
        with ledger_errors():
            result = call()
    except BadField as exc:
        return api_problem("validation_failed", str(exc), field=exc.field)
    except Barred as exc:
        return ledger_problem("merchant_barred", str(exc), barred_until_ms=exc.until_ms)
    except TooManyApplications as exc:
        return api_problem("rate_limited", str(exc), {"Retry-After": str(exc.retry_after_s)})
    except ProposalError as exc:
        raise ApiProblem(exc.code if exc.code == "not_found" else "forbidden", str(exc)) from None
    # A secret (the status token) is never kept by the idempotency records: no-store.
    headers = {"Cache-Control": "no-store"} if secret else None
    return JSONResponse(msgspec.to_builtins(result), status_code=status, headers=headers)


def _key(request: Request) -> str:
    return request.headers["idempotency-key"]  # the middleware refused a POST without one


_OFFICIAL = ("unauthenticated", "forbidden", "not_found")


@router.post(
    "/v1/cities/{city}/merchant-applications",
    status_code=201,
    summary="Apply to become a merchant (public; a few per address). The status token is"
    " shown once: a retry with the same Idempotency-Key answers 409 shown-once",
    response_model=SubmittedOut,
    responses=responses("validation_failed", "conflict", "rate_limited", "not_found"),
)
def apply(request: Request, city: str, body: ApplicationIn) -> Response:
    registry = _registry(request, city)
    form = ApplicationForm(**body.model_dump())
    source = request.client.host if request.client else ""
    return _answer(lambda: registry.apply(city, form, _key(request), source), 201, secret=True)


@router.get(
    "/v1/cities/{city}/merchant-applications/status/{token}",
    summary="The applicant's view of an application, by its status token",
    response_model=ApplicationOut,
    responses=responses("not_found"),
)
def status(request: Request, city: str, token: str) -> Response:
    registry = _registry(request, city)
    return _answer(lambda: registry.status(city, token))


@router.get(
    "/v1/cities/{city}/merchant-applications",
    summary="Applications, newest first (officials; accounts masked)",
    response_model=list[ApplicationOut],
    responses=responses(*_OFFICIAL),
)
def applications(
    request: Request,
    city: str,
    status: str | None = Query(None, pattern="^(pending|approved|refused)$"),
) -> Response:
    allow(request, lambda p: access.reads_proposals(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.applications(city, status))


@router.get(
    "/v1/cities/{city}/merchant-applications/{application}",
    summary="One application (officials; the BRN shown, the account masked)",
    response_model=ApplicationOut,
    responses=responses(*_OFFICIAL),
)
def application(request: Request, city: str, application: str) -> Response:
    allow(request, lambda p: access.reads_proposals(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.application(city, application))


@router.post(
    "/v1/cities/{city}/merchant-applications/{application}/approval",
    status_code=201,
    summary="Propose the approval (register, then approve on the chain; maker-checker)",
    response_model=list[ProposalOut],
    responses=responses(*_OFFICIAL, "conflict"),
)
def approve(request: Request, city: str, application: str) -> Response:
    official = allow(request, lambda p: access.proposes(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.approve(official, application, _key(request)), 201)


@router.post(
    "/v1/cities/{city}/merchant-applications/{application}/refusal",
    status_code=201,
    summary="Refuse an application that is not on the chain yet, with the reason",
    response_model=ApplicationOut,
    responses=responses(*_OFFICIAL, "conflict", "validation_failed"),
)
def refuse(request: Request, city: str, application: str, body: RefusalIn) -> Response:
    official = allow(request, lambda p: access.proposes(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.refuse(official, application, body.reason), 201)


@router.get(
    "/v1/cities/{city}/registry/merchants",
    summary="Merchants on the chain with their status, fraud bar and waiting decisions",
    response_model=list[MerchantOut],
    responses=responses(*_OFFICIAL),
)
def merchants(request: Request, city: str) -> Response:
    allow(request, lambda p: access.reads_proposals(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.merchants(city))


@router.post(
    "/v1/cities/{city}/registry/merchants/{merchant}/suspension",
    status_code=201,
    summary="Propose a suspension (reason cash-out-fraud bars reinstatement for 365 days)",
    response_model=ProposalOut,
    responses=responses(*_OFFICIAL, "conflict", "validation_failed"),
)
def suspend(request: Request, city: str, merchant: str, body: SuspensionIn) -> Response:
    official = allow(request, lambda p: access.proposes(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.suspend(official, merchant, body.reason, _key(request)), 201)


@router.post(
    "/v1/cities/{city}/registry/merchants/{merchant}/reinstatement",
    status_code=201,
    summary="Propose a reinstatement (as many approvals as a suspension; refused while barred)",
    response_model=ProposalOut,
    responses=responses(*_OFFICIAL, "conflict", "merchant_barred"),
)
def reinstate(request: Request, city: str, merchant: str) -> Response:
    official = allow(request, lambda p: access.proposes(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.reinstate(official, merchant, _key(request)), 201)


@router.post(
    "/v1/cities/{city}/registry/merchants/{merchant}/check",
    status_code=201,
    summary="A checker approves the merchant's waiting decisions, oldest first",
    response_model=list[ProposalOut],
    responses=responses(*_OFFICIAL),
)
def check(request: Request, city: str, merchant: str) -> Response:
    checker = allow(request, lambda p: access.approves(p, city))
    registry = _registry(request, city)
    return _answer(lambda: registry.check(checker, merchant), 201)


@router.get(
    "/v1/cities/{city}/merchants/{merchant}/eligibility",
    summary="Per program: may its money be spent at this merchant (and why not)",
    response_model=list[EligibilityOut],
    responses=responses(*_OFFICIAL),
)
def eligibility(request: Request, city: str, merchant: str) -> Response:
    allow(request, lambda p: p.city == city and access.reads_merchant(p, city, merchant))
    registry = _registry(request, city)
    return _answer(lambda: registry.eligibility(city, merchant))
