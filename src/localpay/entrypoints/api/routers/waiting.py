"""The waiting room of sale openings over HTTP (services/waiting; docs/waiting-room.md).

Anyone may join a city's line for a program and read their ticket's status (the ticket
is the bearer: header X-Queue-Ticket or the cookie `localpay_queue_<program>`); the
line's figures are public; officials who propose (access.proposes) schedule an opening
and pause or resume it. The join's Idempotency-Key is the join's identity: the same key
gives the same ticket and place.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import HTTPConnection

from localpay.bootstrap import Container
from localpay.entrypoints.api.deps import allow, container_of, known_city
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.services.identity import access
from localpay.services.waiting.service import (
    DEFAULT_RATE,
    DEFAULT_WINDOW_MINUTES,
    MAX_RATE,
    MAX_WINDOW_MINUTES,
    PROGRAM,
    LineView,
    Status,
    WaitingRoom,
)

router = APIRouter(tags=["waiting room"])
TICKET_HEADER: Final = "x-queue-ticket"
#: How often a live stream looks at its ticket (the look is in memory, between ticks).
STREAM_EVERY_S: Final = 1.0
#: A stream says something at least this often, so proxies keep it open.
HEARTBEAT_S: Final = 15.0


def cookie_name(program: str) -> str:
    return f"localpay_queue_{program}"


def room_of(container: Container) -> WaitingRoom:
    return container.waiting


class OpeningIn(BaseModel):
    opens_at: AwareDatetime = Field(description="when the sale opens (with its UTC offset)")
    rate: Annotated[int, Field(ge=1, le=MAX_RATE, description="people admitted a second")] = (
        DEFAULT_RATE
    )
    window_minutes: Annotated[
        int,
        Field(ge=1, le=MAX_WINDOW_MINUTES, description="how long an admitted person may take"),
    ] = DEFAULT_WINDOW_MINUTES


class OpeningOut(BaseModel):
    city: str
    program: str
    opens_ms: int
    rate: int = Field(description="people admitted a second (the set rate)")
    measured_rate: float | None = Field(description="admitted a second over the last 30 s")
    window_minutes: int
    paused: bool
    waiting: int = Field(description="people in line not admitted yet")
    admitted: int = Field(description="people admitted so far")
    budget_left: int | None = Field(description="won the program may still pay out")
    budget_used_up: bool
    when_budget_out: str | None = Field(description="no_discount or stop")


class StatusOut(BaseModel):
    state: str = Field(description="waiting, admitted, expired (rejoin) or ended")
    program: str
    position: int = Field(description="1 = next to be admitted; 0 once admitted")
    ahead: int
    estimate_s: int | None = Field(description="seconds until admission; null while paused")
    opens_ms: int
    paused: bool
    admitted_until_ms: int | None
    budget_left: int | None
    budget_used_up: bool
    when_budget_out: str | None


class TicketOut(StatusOut):
    ticket: str = Field(description="the bearer of this place: send it as X-Queue-Ticket")


def opening_out(view: LineView) -> OpeningOut:
    o, budget = view.opening, view.budget
    return OpeningOut(
        city=o.city,
        program=o.program,
        opens_ms=o.opens_ms,
        rate=o.rate,
        measured_rate=None if view.measured_rate is None else round(view.measured_rate, 2),
        window_minutes=o.window_ms // 60_000,
        paused=o.paused,
        waiting=o.waiting,
        admitted=o.head,
        budget_left=budget.left if budget else None,
        budget_used_up=bool(budget and budget.used_up),
        when_budget_out=budget.when_out if budget else None,
    )


def status_out(status: Status) -> StatusOut:
    return StatusOut(**status.__dict__)


def ticket_of(request: HTTPConnection, program: str) -> str | None:
    return request.headers.get(TICKET_HEADER) or request.cookies.get(cookie_name(program))


def _checked(request: HTTPConnection, city: str, program: str) -> WaitingRoom:
    known_city(container_of(request), city)
    if not PROGRAM.fullmatch(program):
        raise ApiProblem("not_found", f"no program {program!r}")
    return room_of(container_of(request))


def _view(room: WaitingRoom, city: str, program: str) -> OpeningOut:
    view = room.view(city, program)
    if view is None:
        raise ApiProblem("not_found", f"no sale opening for {program!r}")
    return opening_out(view)


_BASE: Final = "/v1/cities/{city}/waiting/{program}"


@router.get(
    _BASE,
    summary="A sale opening's line: when, how fast, how many wait and were admitted",
    responses=responses("not_found"),
)
def get_opening(request: Request, city: str, program: str) -> OpeningOut:
    return _view(_checked(request, city, program), city, program)


@router.put(
    _BASE,
    summary="Schedule a sale opening, or change its time, rate or window (officials)",
    responses=responses("unauthenticated", "forbidden", "not_found", "validation_failed"),
)
def schedule(request: Request, city: str, program: str, body: OpeningIn) -> OpeningOut:
    allow(request, lambda p: access.proposes(p, city))
    room = _checked(request, city, program)
    opens_ms = int(body.opens_at.timestamp() * 1000)
    room.schedule(city, program, opens_ms, body.rate, body.window_minutes)
    return _view(room, city, program)


def _pause(request: Request, city: str, program: str, paused: bool) -> OpeningOut:
    allow(request, lambda p: access.proposes(p, city))
    room = _checked(request, city, program)
    room.set_paused(city, program, paused)
    return _view(room, city, program)


_OFFICIAL_PROBLEMS: Final = responses("unauthenticated", "forbidden", "not_found")


@router.post(_BASE + "/pause", summary="Pause admission (officials)", responses=_OFFICIAL_PROBLEMS)
def pause(request: Request, city: str, program: str) -> OpeningOut:
    return _pause(request, city, program, True)


@router.post(
    _BASE + "/resume", summary="Resume admission (officials)", responses=_OFFICIAL_PROBLEMS
)
def resume(request: Request, city: str, program: str) -> OpeningOut:
    return _pause(request, city, program, False)


@router.post(
    _BASE + "/tickets",
    status_code=201,
    response_model=TicketOut,
    summary="Join the line: a ticket and its place, the same for the same Idempotency-Key",
    responses=responses("not_found", "validation_failed", "conflict"),
)
def join(request: Request, city: str, program: str) -> Response:
    room = _checked(request, city, program)
    joined = room.join(city, program, request.headers["idempotency-key"])
    out = TicketOut(ticket=joined.ticket, **joined.status.__dict__)
    answer = JSONResponse(out.model_dump(), status_code=201)
    answer.set_cookie(
        cookie_name(program),
        joined.ticket,
        path=f"/c/{city}/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return answer


@router.get(
    _BASE + "/status",
    summary="Where a ticket stands: place, people ahead, estimate, admission, budget",
    responses=responses("not_found"),
)
def status(request: Request, city: str, program: str) -> StatusOut:
    room = _checked(request, city, program)
    return status_out(room.status(city, program, ticket_of(request, program)))


@router.get(
    _BASE + "/events",
    summary="A ticket's status live (Server-Sent Events `status`, JSON as in /status)",
    responses=responses("not_found"),
    response_class=StreamingResponse,
)
def events(request: Request, city: str, program: str) -> StreamingResponse:
    room = _checked(request, city, program)
    ticket = ticket_of(request, program)
    room.status(city, program, ticket)  # 404 now, before the stream starts

    async def stream() -> AsyncIterator[str]:
        said, quiet = "", 0.0
        while not await request.is_disconnected():
            now = await asyncio.to_thread(room.status, city, program, ticket)
            text = json.dumps(status_out(now).model_dump(), separators=(",", ":"))
            if text != said or quiet >= HEARTBEAT_S:
                said, quiet = text, 0.0
                yield f"event: status\ndata: {text}\n\n"
            await asyncio.sleep(STREAM_EVERY_S)
            quiet += STREAM_EVERY_S

    return StreamingResponse(stream(), media_type="text/event-stream")
