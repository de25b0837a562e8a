"""A merchant's webhook endpoints (docs/webhooks.md): create (the signing secret shown
once), list, read, delete, rotate the secret, the delivery log, replay one event or all
from a height, a test ping. The merchant's owner or its API key only; a cashier is 403,
anyone else (another merchant, another city) 404.

Every POST carries an Idempotency-Key (the middleware answers a repeat with the first
response; an answer holding a secret is not kept, so its repeat says it was shown once).
The create also derives the endpoint's id from the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt

from localpay.domain.errors import LocalpayError
from localpay.domain.limits import INTEGER_MAX
from localpay.entrypoints.api.deps import container_of, known_city, require
from localpay.entrypoints.api.problems import MEDIA_TYPE, ApiProblem, problem, responses
from localpay.entrypoints.api.schemas import DEFAULT_PAGE, Cursor, Limit, decode_cursor
from localpay.entrypoints.api.schemas import encode_cursor as encode
from localpay.services.identity.service import Principal
from localpay.services.webhooks import errors as e
from localpay.services.webhooks.events import EVENT_TYPES
from localpay.services.webhooks.service import Webhooks
from localpay.services.webhooks.views import (
    AttemptView,
    Created,
    SubscriptionView,
    attempt_view,
    log_view,
    subscription_view,
)

router = APIRouter(tags=["webhooks"])
T = TypeVar("T")

BASE: Final = "/v1/cities/{city}/merchants/{merchant}/webhooks"
ONE: Final = BASE + "/{subscription}"
#: The roles that manage a shop's webhooks: its owner, and its server's API key.
MANAGERS: Final = frozenset({"merchant_owner", "merchant_api"})

#: Each webhook refusal: code -> (HTTP status, title).
PROBLEMS: Final[dict[str, tuple[int, str]]] = {
    e.BadEndpoint.code: (422, "the endpoint URL is not acceptable"),
    e.UnknownEventType.code: (422, "no such event type"),
    e.TooManySubscriptions.code: (409, "the shop has as many endpoints as it may"),
    e.NoSuchSubscription.code: (404, "no such webhook endpoint"),
    e.NoSuchEvent.code: (404, "no such event"),
    e.AlreadyCreated.code: (409, "this request already made the endpoint"),
    e.AlreadyRotated.code: (409, "this request already made the new secret"),
}


_PROBLEM: Final = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _documented(*codes: str) -> dict[int | str, dict[str, object]]:
    out: dict[int | str, dict[str, object]] = dict(
        responses("unauthenticated", "forbidden", "not_found", "validation_failed")
    )
    for code in codes:
        status = PROBLEMS[code][0]
        entry = out.setdefault(status, {"description": "", "content": _PROBLEM})
        entry["description"] = ", ".join(filter(None, [str(entry["description"]), code]))
    return out


# -- schemas --------------------------------------------------------------------------------


class NewSubscription(BaseModel):
    url: str = Field(
        max_length=2_048,
        description="https:// URL the events are POSTed to (http:// only on localhost)",
        examples=["https://shop.example/localpay/webhooks"],
    )
    types: list[str] = Field(
        default_factory=list,
        max_length=len(EVENT_TYPES),
        description=f"event types to receive, of {', '.join(EVENT_TYPES)}; empty: all",
    )


class SubscriptionOut(BaseModel):
    id: str = Field(description="the endpoint's id (wh_ + 24 hex)")
    url: str
    types: list[str] = Field(description="the event types it receives; empty: all")
    status: str = Field(description="active, or failing (its next event used up the retries)")
    cursor: int = Field(description="seq of the last transaction of the city's log done for it")
    attempts: int = Field(description="failed tries of its next event")
    next_ms: int = Field(description="when its next try is due (epoch ms; 0: now)")
    last_error: str = Field(description="why the last try failed (HTTP status or network)")
    delivered_ms: int | None = Field(description="its last successful delivery (epoch ms)")
    created_ms: int
    rotating_until_ms: int | None = Field(
        description="after a rotation, the old secret also signs until then (epoch ms)"
    )


class SubscriptionsOut(BaseModel):
    items: list[SubscriptionOut]


class CreatedOut(BaseModel):
    subscription: SubscriptionOut
    secret: str = Field(description="the signing secret, whsec_ + base64: shown only this once")


class AttemptOut(BaseModel):
    id: int = Field(description="its place in the log (increasing)")
    event_id: str = Field(description="the webhook-id header: evt_<transaction id>")
    type: str
    seq: int = Field(description="the transaction's seq in the city's log (-1: a test ping)")
    attempt: int = Field(description="1 for the first try of the event, 2 for the first retry…")
    status_code: int | None = Field(description="the endpoint's HTTP status; null: no answer")
    ok: bool = Field(description="a 2xx")
    error: str
    duration_ms: int
    at_ms: int
    replay: bool = Field(description="sent on request (a replay or a ping)")


class AttemptsOut(BaseModel):
    items: list[AttemptOut] = Field(description="newest first")
    next: str | None = Field(description="cursor of the next (older) page")


class ReplayFrom(BaseModel):
    from_height: StrictInt = Field(ge=0, lt=INTEGER_MAX, description="a block height")


class ReplayedOut(BaseModel):
    subscription: str
    from_height: int
    cursor: int = Field(description="the cursor set: delivery goes on from the next seq")


def _subscription(view: SubscriptionView) -> SubscriptionOut:
    return SubscriptionOut(**{k: getattr(view, k) for k in SubscriptionOut.model_fields})


def _attempt(view: AttemptView) -> AttemptOut:
    return AttemptOut(**{k: getattr(view, k) for k in AttemptOut.model_fields})


def _created(made: Created) -> CreatedOut:
    return CreatedOut(subscription=_subscription(made.subscription), secret=made.secret)


# -- who, and the calls ---------------------------------------------------------------------


def _manager(request: Request, city: str, merchant: str) -> Webhooks:
    """The webhooks service, if the caller manages this merchant's; else a problem."""
    p: Principal = require(request)
    if p.city != city or p.merchant != merchant:
        raise ApiProblem("not_found", "no such resource")
    if p.role not in MANAGERS:
        raise ApiProblem("forbidden", f"a {p.role} may not manage the shop's webhooks")
    container = container_of(request)
    known_city(container, city)
    return container.webhooks


async def _call(run: Callable[[], T]) -> T | Response:
    try:
        return await run_in_threadpool(run)
    except LocalpayError as exc:
        if exc.code not in PROBLEMS:
            raise
        status, title = PROBLEMS[exc.code]
        return problem(status, exc.code, title, str(exc))


def _secret(body: CreatedOut, status: int) -> Response:
    # no-store: a secret is never cached, and the idempotency record never keeps it.
    return Response(
        body.model_dump_json(), status, media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


@router.post(
    BASE,
    status_code=201,
    summary="Add a webhook endpoint for the shop (its signing secret is shown once)",
    response_model=CreatedOut,
    responses=_documented(
        e.BadEndpoint.code,
        e.UnknownEventType.code,
        e.TooManySubscriptions.code,
        e.AlreadyCreated.code,
    ),
)
async def create(request: Request, city: str, merchant: str, body: NewSubscription) -> Response:
    hooks = _manager(request, city, merchant)
    key = request.headers.get("idempotency-key", "")
    made = await _call(lambda: hooks.create(city, merchant, body.url, body.types, key))
    return made if isinstance(made, Response) else _secret(_created(made), 201)


@router.get(
    BASE,
    summary="The shop's webhook endpoints and their delivery status",
    response_model=SubscriptionsOut,
    responses=_documented(),
)
async def list_subscriptions(request: Request, city: str, merchant: str) -> SubscriptionsOut:
    hooks = _manager(request, city, merchant)
    now = hooks.clock()
    found = await run_in_threadpool(hooks.of_merchant, city, merchant)
    return SubscriptionsOut(items=[_subscription(subscription_view(s, now)) for s in found])


@router.get(
    ONE,
    summary="One webhook endpoint and its delivery status",
    response_model=SubscriptionOut,
    responses=_documented(e.NoSuchSubscription.code),
)
async def one(request: Request, city: str, merchant: str, subscription: str) -> Response:
    hooks = _manager(request, city, merchant)
    found = await _call(lambda: hooks.get(city, merchant, subscription))
    if isinstance(found, Response):
        return found
    view = _subscription(subscription_view(found, hooks.clock()))
    return Response(view.model_dump_json(), media_type="application/json")


@router.delete(
    ONE,
    status_code=204,
    summary="Remove a webhook endpoint (and its delivery log)",
    responses=_documented(e.NoSuchSubscription.code),
)
async def delete(request: Request, city: str, merchant: str, subscription: str) -> Response:
    hooks = _manager(request, city, merchant)
    done = await _call(lambda: hooks.delete(city, merchant, subscription))
    return done if isinstance(done, Response) else Response(status_code=204)


@router.post(
    ONE + "/rotate",
    summary="A new signing secret (shown once); the old one also signs for 24 hours",
    response_model=CreatedOut,
    responses=_documented(e.NoSuchSubscription.code, e.AlreadyRotated.code),
)
async def rotate(request: Request, city: str, merchant: str, subscription: str) -> Response:
    hooks = _manager(request, city, merchant)
    key = request.headers.get("idempotency-key", "")
    made = await _call(lambda: hooks.rotate(city, merchant, subscription, key))
    return made if isinstance(made, Response) else _secret(_created(made), 200)


@router.get(
    ONE + "/deliveries",
    summary="The endpoint's delivery log: every attempt, newest first",
    response_model=AttemptsOut,
    responses=_documented(e.NoSuchSubscription.code),
)
async def deliveries(
    request: Request,
    city: str,
    merchant: str,
    subscription: str,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Response:
    hooks = _manager(request, city, merchant)
    before = decode_cursor(cursor)
    rows = await _call(lambda: hooks.attempts(city, merchant, subscription, before, limit))
    if isinstance(rows, Response):
        return rows
    items = [_attempt(v) for v in log_view(rows)]
    after = encode(items[-1].id) if len(items) == limit else None
    page = AttemptsOut(items=items, next=after)
    return Response(page.model_dump_json(), media_type="application/json")


@router.post(
    ONE + "/deliveries/{event_id}/replay",
    summary="Send one event again now, once (the answer is that attempt)",
    response_model=AttemptOut,
    responses=_documented(e.NoSuchSubscription.code, e.NoSuchEvent.code),
)
async def replay_event(
    request: Request, city: str, merchant: str, subscription: str, event_id: str
) -> Response:
    hooks = _manager(request, city, merchant)
    done = await _call(lambda: hooks.replay_event(city, merchant, subscription, event_id))
    if isinstance(done, Response):
        return done
    return Response(
        _attempt(attempt_view(0, done)).model_dump_json(), media_type="application/json"
    )


@router.post(
    ONE + "/replay",
    status_code=202,
    summary="Deliver again, in order, every event from a block height on",
    response_model=ReplayedOut,
    responses=_documented(e.NoSuchSubscription.code, e.NoSuchEvent.code),
)
async def replay_from(
    request: Request, city: str, merchant: str, subscription: str, body: ReplayFrom
) -> Response:
    hooks = _manager(request, city, merchant)
    height = body.from_height
    done = await _call(lambda: hooks.replay_from(city, merchant, subscription, height))
    if isinstance(done, Response):
        return done
    out = ReplayedOut(subscription=done.subscription, from_height=height, cursor=done.cursor)
    return Response(out.model_dump_json(), 202, media_type="application/json")


@router.post(
    ONE + "/ping",
    summary="Send a webhook.test event now (the answer is that attempt)",
    response_model=AttemptOut,
    responses=_documented(e.NoSuchSubscription.code),
)
async def ping(request: Request, city: str, merchant: str, subscription: str) -> Response:
    hooks = _manager(request, city, merchant)
    done = await _call(lambda: hooks.ping(city, merchant, subscription))
    if isinstance(done, Response):
        return done
    return Response(
        _attempt(attempt_view(0, done)).model_dump_json(), media_type="application/json"
    )
