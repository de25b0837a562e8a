"""The shop owner's webhooks page: the shop's endpoints and their status, adding one (its
secret shown once), a test ping, a new secret, removal, the delivery log of an endpoint
and a replay button per event (and, outside senior mode, a replay from a block height).

`/c/{city}/counter/webhooks` sends the owner to their own shop's page; only the owner
(a person, not the API key, not a cashier) sees it, anyone else the 404 page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData as Form

from localpay.domain.errors import LocalpayError
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.counter import shop_name
from localpay.entrypoints.web.security import check_csrf
from localpay.services.identity import access
from localpay.services.identity.service import Principal
from localpay.services.webhooks import errors as e
from localpay.services.webhooks.events import EVENT_TYPES
from localpay.services.webhooks.ports import Attempt
from localpay.services.webhooks.service import Webhooks
from localpay.services.webhooks.views import log_view, subscription_view

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]
T = TypeVar("T")
#: (city, merchant, subscription) an action is about.
Where = tuple[str, str, str]

LOG_SHOWN: Final = 30
#: What each event type means, in plain words (the type itself is shown as code).
MEANINGS: Final = {
    "checkout.approved": N_("A customer approved an online order"),
    "checkout.captured": N_("An online order was charged"),
    "checkout.cancelled": N_("An online order was cancelled"),
    "payment.succeeded": N_("A payment was made"),
    "payment.refunded": N_("A payment was refunded"),
    "card.authorized": N_("A card payment was authorized"),
    "card.captured": N_("A card payment was completed"),
    "card.reversed": N_("A card payment was reversed"),
    "payout.sent": N_("A payout to the bank was sent"),
    "payout.paid": N_("A payout reached the bank account"),
    "payout.returned": N_("The bank returned a payout"),
}
#: Each refusal of the service, in plain words.
REFUSALS: Final = {
    e.BadEndpoint.code: N_(
        "The address must start with https:// (http:// only for localhost while testing)."
    ),
    e.UnknownEventType.code: N_("Choose event types from the list."),
    e.TooManySubscriptions.code: N_("A shop can have at most 10 endpoints. Remove one first."),
    e.NoSuchSubscription.code: N_("That endpoint is no longer there."),
    e.NoSuchEvent.code: N_("There is no such event for this shop."),
    e.AlreadyRotated.code: N_(
        "The new secret was already made and shown once. Make another if you did not copy it."
    ),
    e.AlreadyCreated.code: N_(
        "This endpoint was already added. Its secret was shown only once; make a new secret if"
        " you lost it."
    ),
}


def _owner(request: Request, city: str, merchant: str) -> Principal:
    return person(request, city, lambda p: access.pays_out(p, city, merchant))


def _hooks(request: Request) -> Webhooks:
    return container(request).webhooks


def _context(
    request: Request, city: str, merchant: str, staff: Principal, shown: str | None
) -> dict[str, Any]:
    hooks = _hooks(request)
    now = hooks.clock()
    subs = [subscription_view(s, now) for s in hooks.of_merchant(city, merchant)]
    chosen = next((s for s in subs if s.id == shown), subs[0] if subs else None)
    log = log_view(hooks.attempts(city, merchant, chosen.id, None, LOG_SHOWN)) if chosen else []
    return {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": True,
        "home": f"/c/{city}/counter/{merchant}/",
        "here": f"/c/{city}/counter/{merchant}/webhooks",
        "subscriptions": subs,
        "chosen": chosen,
        "log": log,
        "types": [(t, say(request, MEANINGS[t])) for t in EVENT_TYPES],
        "key": str(uuid.uuid4()),
    }


async def _render(
    request: Request,
    city: str,
    merchant: str,
    staff: Principal,
    shown: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    context = await run_in_threadpool(_context, request, city, merchant, staff, shown)
    return page(request, "counter/webhooks.html", {**context, **extra}, status=status)


async def _do(request: Request, run: Callable[[], T]) -> tuple[T | None, str]:
    """Run a service call; (its answer, "") or (None, the refusal in plain words)."""
    try:
        return await run_in_threadpool(run), ""
    except LocalpayError as exc:
        if exc.code not in REFUSALS:
            raise
        return None, say(request, REFUSALS[exc.code])


def _sent(request: Request, attempt: Attempt) -> str:
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        return say(request, "Sent. The endpoint answered %(status)s.", status=attempt.status_code)
    if attempt.status_code is None:
        return say(request, "Not delivered: %(error)s", error=attempt.error)
    return say(
        request, "Not delivered: the endpoint answered %(status)s.", status=attempt.status_code
    )


@router.get("/c/{city}/counter/webhooks")
def webhooks_home(request: Request, city: str) -> Response:
    city_of(request, city)
    staff = person(request, city, lambda p: p.role == "merchant_owner" and p.merchant is not None)
    return RedirectResponse(f"/c/{city}/counter/{staff.merchant}/webhooks", status_code=303)


@router.get("/c/{city}/counter/{merchant}/webhooks")
async def webhooks_page(
    request: Request, city: str, merchant: str, endpoint: str | None = None
) -> Response:
    staff = _owner(request, city, merchant)
    return await _render(request, city, merchant, staff, endpoint)


@router.post("/c/{city}/counter/{merchant}/webhooks")
async def add_endpoint(request: Request, city: str, merchant: str, _: Csrf) -> Response:
    staff = _owner(request, city, merchant)
    form = await request.form()
    key = forms.idempotency_key(form)
    url = forms.text(form, "url", max_length=2_048)
    chosen = [t for t in form.getlist("types") if isinstance(t, str)]
    hooks = _hooks(request)
    made, error = await _do(request, lambda: hooks.create(city, merchant, url, chosen, key))
    if made is None:
        return await _render(request, city, merchant, staff, status=422, error=error, url=url)
    shown = made.subscription.id
    return await _render(request, city, merchant, staff, shown, secret=made.secret)


#: An action's outcome: (notice, error, secret shown once), each "" when none.
Outcome = tuple[str, str, str]


async def _ping(request: Request, hooks: Webhooks, where: Where, form: Form) -> Outcome:
    done, error = await _do(request, lambda: hooks.ping(*where))
    return (_sent(request, done) if done else ""), error, ""


async def _rotate(request: Request, hooks: Webhooks, where: Where, form: Form) -> Outcome:
    key = forms.idempotency_key(form)
    made, error = await _do(request, lambda: hooks.rotate(*where, key))
    return "", error, made.secret if made else ""


async def _delete(request: Request, hooks: Webhooks, where: Where, form: Form) -> Outcome:
    _, error = await _do(request, lambda: hooks.delete(*where))
    return ("" if error else say(request, "The endpoint was removed.")), error, ""


async def _replay(request: Request, hooks: Webhooks, where: Where, form: Form) -> Outcome:
    event = forms.text(form, "event", max_length=80)
    done, error = await _do(request, lambda: hooks.replay_event(*where, event))
    return (_sent(request, done) if done else ""), error, ""


async def _replay_from(request: Request, hooks: Webhooks, where: Where, form: Form) -> Outcome:
    raw = forms.text(form, "height", max_length=12)
    if not raw.isdigit():
        return "", say(request, "Enter a block height: a whole number, like 1200."), ""
    done, error = await _do(request, lambda: hooks.replay_from(*where, int(raw)))
    if done is None:
        return "", error, ""
    notice = say(request, "Events from block %(height)s will be sent again, in order.", height=raw)
    return notice, "", ""


ACTIONS: Final = {
    "ping": _ping,
    "rotate": _rotate,
    "delete": _delete,
    "replay": _replay,
    "replay-from": _replay_from,
}


@router.post("/c/{city}/counter/{merchant}/webhooks/{subscription}/{act}")
async def endpoint_action(
    request: Request, city: str, merchant: str, subscription: str, act: str, _: Csrf
) -> Response:
    staff = _owner(request, city, merchant)
    action = ACTIONS.get(act)
    if action is None:
        raise PageError(404, N_("There is no such page."))
    form = await request.form()
    forms.idempotency_key(form)
    where = (city, merchant, subscription)
    notice, error, secret = await action(request, _hooks(request), where, form)
    return await _render(
        request, city, merchant, staff, subscription, status=422 if error else 200,
        error=error, notice=notice, secret=secret,
    )  # fmt: skip
