"""The counter's capture of a customer's one-time code: the amount, then the code scanned
(a USB barcode scanner types the digits and Enter into the field), read by the camera, or
typed; the server signs a ClaimCode with the merchant's key (services/payments/qr/
code_claims.py). The answer on screen: approved with the amount, or why not in plain words.

Staff (owner or cashier) of a merchant use their own merchant's page; anyone else gets the
sign-in page or the 404 page. The form carries an idempotency key rendered with it, so a
double submit (two Enters from a scanner) is one command with one answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from localpay.domain.codes import Code
from localpay.domain.commands import ClaimCode, DecodeError, decode_envelope
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.outcomes import PLAIN
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.counter import shop_name
from localpay.entrypoints.web.security import check_csrf, finish
from localpay.ledger.receipt import Receipt
from localpay.services.identity import access
from localpay.services.identity.service import MERCHANT_ROLES, Principal
from localpay.services.payments.qr import code_claims
from localpay.services.payments.qr.codes import CodeMalformed

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]
#: A command id, as the redirect after a capture names it.
TX_ID: Final = re.compile(r"[0-9a-f]{32}")

#: Why a capture was refused, as the cashier needs to hear it where the customer's words
#: (outcomes.PLAIN, which also has the codes' own: used, expired, over the cap) do not fit.
_REFUSALS: Final[dict[str, str]] = {
    Code.INSUFFICIENT_FUNDS: N_("The customer does not have enough money usable at this shop."),
    Code.MERCHANT_NOT_ACTIVE: N_("This shop is suspended. Ask the city office."),
    Code.CATEGORY_DENIED: N_("The customer's money cannot be used at this shop."),
    Code.AREA_DENIED: N_("The customer's money cannot be used at this shop."),
    Code.REVENUE_CAP_EXCEEDED: N_("The customer's money cannot be used at this shop."),
}
_REFUSED: Final = N_("The payment was refused. Nothing was paid.")


def _staff(request: Request, city: str) -> Principal:
    """An owner or cashier (a person: a merchant's API key has no pages) of a merchant."""
    return person(
        request,
        city,
        lambda p: (
            p.role in MERCHANT_ROLES
            and p.role != "merchant_api"
            and p.merchant is not None
            and access.refunds_for(p, city, p.merchant)
        ),
    )


def _merchant(staff: Principal) -> str:
    assert staff.merchant is not None  # `_staff` admits only staff of a merchant
    return staff.merchant


def _context(request: Request, city: str, staff: Principal) -> dict[str, Any]:
    merchant = _merchant(staff)
    return {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": access.pays_out(staff, city, merchant),
        "home": f"/c/{city}/counter/{merchant}/",
        "key": str(uuid.uuid4()),
        "amount_text": "",
    }


def _claimed(request: Request, city: str, merchant: str, tx_id: str) -> int | None:
    """The amount of this merchant's successful capture `tx_id` (after the redirect), or
    None: the page never confirms another shop's capture."""
    tx = container(request).store.find_tx(city, tx_id) if TX_ID.fullmatch(tx_id) else None
    if tx is None or not tx.decoded_result().ok:
        return None
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return None
    if not isinstance(command, ClaimCode) or command.merchant != merchant:
        return None
    return command.amount


@router.get("/c/{city}/counter/code")
def code_form(request: Request, city: str, claimed: str = "") -> Response:
    staff = _staff(request, city)
    context = _context(request, city, staff)
    context["approved"] = _claimed(request, city, _merchant(staff), claimed)
    return page(request, "counter/code.html", context)


def _refused(request: Request, receipt: Receipt) -> str:
    words = _REFUSALS.get(receipt.code) or PLAIN.get(receipt.code) or _REFUSED
    return say(request, words)


@router.post("/c/{city}/counter/code")
async def capture(request: Request, city: str, _: Csrf) -> Response:
    staff = _staff(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    typed = forms.text(form, "code", max_length=64)
    # The code is not written back into the page: the cashier scans it again.
    context = {**_context(request, city, staff), "key": key, "amount_text": str(amount or "")}
    if amount is None:
        error = say(request, "Enter the amount in whole won, for example 12000.")
        return page(request, "counter/code.html", {**context, "error": error}, status=422)
    box, merchant = container(request), _merchant(staff)
    try:
        receipt = await run_in_threadpool(
            _run,
            lambda: code_claims.claim(box.ledgers, staff, merchant, typed, amount, key),
        )
    except CodeMalformed:
        error = say(request, "This is not a customer code (20 digits). Scan or type it again.")
        return page(request, "counter/code.html", {**context, "error": error}, status=422)
    except code_claims.CodeNotFound:
        error = say(request, PLAIN[Code.CODE_NOT_FOUND])
        return page(request, "counter/code.html", {**context, "error": error}, status=409)
    if receipt.ok:
        target = f"/c/{city}/counter/code?claimed={receipt.id}"
        return finish(request, RedirectResponse(target, status_code=303))
    # A new key: the cashier may try again (another amount, another code) as a new command.
    context |= {"error": _refused(request, receipt), "refusal": receipt.code}
    context["key"] = str(uuid.uuid4())
    return page(request, "counter/code.html", context, status=409)


def _run(call: Callable[[], Receipt]) -> Receipt:
    try:
        return call()
    except TimeoutError:
        # The command may still land: the same form (same key) gets its one answer.
        raise PageError(503, N_("The service is busy. Please try again in a moment.")) from None
    except code_claims.MerchantKeyMissing:
        raise PageError(
            503, N_("This server cannot sign for the shop now. Ask the operator.")
        ) from None
