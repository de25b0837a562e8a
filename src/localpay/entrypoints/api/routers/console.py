"""The city console's checks over the API: where a draft program version would apply,
and what the CEL checker says of a condition (and of a sample payment). Nothing is
written: these answer the same as the console's pages (services/console/preview.py),
for the city's officials and auditors."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictInt, StrictStr

from localpay.domain.policy import Policy
from localpay.entrypoints.api.deps import ContainerDep, allow, known_city
from localpay.entrypoints.api.problems import ApiProblem, ledger_problem, responses
from localpay.services.console.preview import (
    check_condition,
    policy_problem,
    preview,
    sample_context,
)
from localpay.services.identity import access

router = APIRouter()


class PreviewIn(BaseModel):
    policy: dict[str, Any] = Field(
        description="a program version as in define_program (docs/programs.md, docs/encoding.md)"
    )


class PreviewOut(BaseModel):
    active: int = Field(description="active merchants of the city")
    eligible: int = Field(description="active merchants that accept the version")
    by_category: dict[str, int] = Field(description="category -> eligible merchants")
    by_area: dict[str, int] = Field(description="area label -> eligible merchants")
    refused: dict[str, int] = Field(description="denial code -> active merchants refused")


class ConditionIn(BaseModel):
    expression: Annotated[str, Field(max_length=1024, description="a CEL condition")]
    sample: dict[str, StrictInt | StrictStr] | None = Field(
        None,
        description="a sample payment's context (amount, category, area, hour, weekday,"
        " wallet_age_days, lot_age_days, program); unnamed variables take the defaults",
    )


class ConditionOut(BaseModel):
    ok: bool = Field(description="true when the ledger would accept the condition")
    message: str | None = Field(description="the CEL checker's message when not ok")
    engine: str = Field(description="the engine a program must name (Policy.engine)")
    verdict: bool | None = Field(description="the condition on the sample (when one was sent)")


def _staff(request: Request, container: Any, city: str) -> None:
    allow(request, lambda p: access.reads_proposals(p, city))
    known_city(container, city)


@router.post(
    "/v1/cities/{city}/programs/preview",
    tags=["officials"],
    summary="Where a draft program version would apply: eligible merchants by category"
    " and area (nothing is written)",
    response_model=PreviewOut,
    responses=responses(
        "unauthenticated", "forbidden", "not_found", "validation_failed", "invalid_policy"
    ),
)
def preview_policy(request: Request, container: ContainerDep, city: str, body: PreviewIn) -> Any:
    _staff(request, container, city)
    try:
        policy = msgspec.convert(body.policy, Policy)
    except msgspec.ValidationError as exc:
        raise ApiProblem("validation_failed", f"policy: {exc}") from None
    problem = policy_problem(policy)
    if problem is not None:
        return ledger_problem("invalid_policy", problem)
    found = preview(container.ledgers.sequencer(city).state, policy)
    return msgspec.to_builtins(found)


@router.post(
    "/v1/cities/{city}/programs/condition-check",
    tags=["officials"],
    summary="Type-check a CEL condition as the ledger will at definition, and judge a"
    " sample payment (nothing is written)",
    response_model=ConditionOut,
    responses=responses("unauthenticated", "forbidden", "not_found", "validation_failed"),
)
def condition_check(request: Request, container: ContainerDep, city: str, body: ConditionIn) -> Any:
    _staff(request, container, city)
    try:
        sample = sample_context(body.sample) if body.sample is not None else None
    except ValueError as exc:
        raise ApiProblem("validation_failed", f"sample: {exc}") from None
    return msgspec.to_builtins(check_condition(body.expression, sample))
