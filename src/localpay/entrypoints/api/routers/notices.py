"""A wallet's notices (services/jobs/notices.py): its money that expires in 30 or 7 days.

The wallet's own session only: the city's staff read balances from the wallet view, and
any other principal is answered as if the wallet had no such resource (404)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from localpay.domain.calendar import iso_date
from localpay.entrypoints.api.deps import ContainerDep, known_city, require
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.entrypoints.api.schemas import DEFAULT_PAGE, Limit
from localpay.services.identity.service import Principal

router = APIRouter()


class NoticeOut(BaseModel):
    id: str = Field(description="the notice's id (32 hex)")
    lot: str = Field(description="the lot of money it is about")
    program: str
    days_before: int = Field(description="30 or 7: how many days before the end it was written")
    amount: int = Field(description="won in the lot when the notice was written")
    expires_ms: int = Field(description="when the lot stops being spendable (epoch ms)")
    last_day: str = Field(description="the last Korean calendar day it is spendable")
    created_ms: int
    seen: bool = Field(description="the wallet's notices page has shown it")
    delivery: str = Field(description="pending, delivered or failed (the channel's delivery)")


class NoticesOut(BaseModel):
    items: list[NoticeOut] = Field(description="newest first")
    unread: int = Field(description="notices the wallet's page has not shown yet")


def own_wallet(p: Principal, city: str, wallet: str) -> bool:
    return p.city == city and p.role == "citizen" and p.wallet == wallet


@router.get(
    "/v1/cities/{city}/wallets/{wallet}/notices",
    tags=["accounts"],
    summary="A wallet's notices of money about to expire, 30 and 7 days before (the wallet's"
    " own session only)",
    response_model=NoticesOut,
    responses=responses("unauthenticated", "not_found", "validation_failed"),
)
def wallet_notices(
    request: Request, container: ContainerDep, city: str, wallet: str, limit: Limit = DEFAULT_PAGE
) -> NoticesOut:
    if not own_wallet(require(request), city, wallet):
        raise ApiProblem("not_found", "no such resource")
    known_city(container, city)
    found = container.notices.of_wallet(city, wallet, limit)
    items = [
        NoticeOut(
            id=n.id,
            lot=n.lot,
            program=n.program,
            days_before=n.days_before,
            amount=n.amount,
            expires_ms=n.expires_ms,
            last_day=iso_date(n.expires_ms - 1),
            created_ms=n.created_ms,
            seen=n.seen_ms is not None,
            delivery=n.status,
        )
        for n in found
    ]
    return NoticesOut(items=items, unread=container.notices.unseen(city, wallet))
