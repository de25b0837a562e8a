"""The shop owner's payouts to the bank (services/settlement): the balance, "pay out
now" (an instant payout by a key made per form render, so a double submit is one
payout), the account on file (masked; registered here when there is none), and the
payouts with their status in plain words (sending, paid in, returned and why).

`/c/{city}/counter/payouts` is the signed-in owner's own shop; only an owner (a person,
not the API key, not a cashier) sees it, anyone else the 404 page (deps.person)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import city_of, container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.counter import shop_name
from localpay.entrypoints.web.security import check_csrf
from localpay.services.identity.service import Principal
from localpay.services.settlement.ports import LINE_PAID, LINE_RETURNED, BankDown, Party
from localpay.services.settlement.service import NoPayoutAccount, PayoutRefused, SettlementService
from localpay.services.settlement.views import masked

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]
T = TypeVar("T")
SHOWN: Final = 30

#: A line's status in plain words.
STATUSES: Final = {
    LINE_PAID: N_("Paid into the account"),
    LINE_RETURNED: N_("Returned"),
}
SENDING: Final = N_("Sending to the bank")
#: ISO 20022 return reasons, in plain words (the code is shown beside them).
REASONS: Final = {
    "AC01": N_("the account number is wrong"),
    "AC04": N_("the account is closed"),
    "AC06": N_("the account is blocked"),
    "AG01": N_("the bank does not allow this transfer to the account"),
    "AM04": N_("the trust account could not cover it"),
    "BE01": N_("the holder's name does not match the account"),
    "FF01": N_("the bank could not read the payout file"),
    "MS03": N_("the bank gave no reason"),
    "NARR": N_("see the bank's note"),
}
REFUSALS: Final = {
    "insufficient_funds": N_("The amount is more than the shop's balance."),
    "invalid_amount": N_("Enter the amount in whole won, for example 12000."),
    "merchant_not_active": N_("This shop is suspended. Ask the city office."),
    "payout_account_missing": N_("Register the shop's bank account first."),
}


def reason_words(request: Request, code: str) -> str:
    words = REASONS.get(code)
    return say(request, words) if words else code


def _owner(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: p.role == "merchant_owner" and p.merchant is not None)


def _settlement(request: Request) -> SettlementService:
    found: SettlementService | None = getattr(container(request), "settlement", None)
    if found is None:
        raise PageError(503, N_("Payouts to bank accounts are not available right now."))
    return found


def _rows(
    request: Request, svc: SettlementService, city: str, merchant: str
) -> list[dict[str, Any]]:
    rows = []
    for batch in svc.batches(city, merchant, SHOWN):
        for line in batch.lines:
            if line.owner != merchant:
                continue
            status = say(request, STATUSES.get(line.status, SENDING))
            why = reason_words(request, line.reason) if line.status == LINE_RETURNED else ""
            rows.append({
                "id": line.payout, "amount": line.amount, "when": batch.created_ms,
                "execution": batch.execution, "status": line.status, "words": status,
                "reason": line.reason, "why": why,
            })  # fmt: skip
    return rows


def _context(request: Request, city: str, staff: Principal) -> dict[str, Any]:
    merchant = staff.merchant
    assert merchant is not None
    box = container(request)
    svc = _settlement(request)
    stored = svc.account_of(city, merchant)
    balance = box.ledgers.sequencer(city).state.merchants[merchant].balance
    return {
        "city": city_of(request, city),
        "merchant": merchant,
        "shop": shop_name(request, city, merchant),
        "owner": True,
        "home": f"/c/{city}/counter/{merchant}/",
        "here": f"/c/{city}/counter/payouts",
        "balance": balance,
        "amount": balance,
        "account": stored.party if stored else None,
        "masked": masked(stored.party) if stored else "",
        "rows": _rows(request, svc, city, merchant),
        "key": str(uuid.uuid4()),
    }


async def _render(
    request: Request, city: str, staff: Principal, status: int = 200, **extra: Any
) -> Response:
    context = await run_in_threadpool(_context, request, city, staff)
    return page(request, "counter/settlement.html", {**context, **extra}, status=status)


async def _do(request: Request, run: Callable[[], T]) -> tuple[T | None, str]:
    """A service call: (its answer, "") or (None, the refusal in plain words)."""
    try:
        return await run_in_threadpool(run), ""
    except PayoutRefused as exc:
        return None, say(
            request, REFUSALS.get(exc.code, N_("The ledger refused this. Nothing was changed."))
        )
    except NoPayoutAccount:
        return None, say(request, REFUSALS["payout_account_missing"])
    except BankDown:
        words = N_("The bank did not answer. The payout is kept and sent again shortly.")
        return None, say(request, words)


@router.get("/c/{city}/counter/payouts")
async def payouts_page(request: Request, city: str) -> Response:
    return await _render(request, city, _owner(request, city))


@router.post("/c/{city}/counter/payouts")
async def pay_out(request: Request, city: str, _: Csrf) -> Response:
    staff = _owner(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    if amount is None:
        error = say(request, "Enter the amount in whole won, for example 12000.")
        return await _render(request, city, staff, 422, error=error)
    svc, merchant, now = _settlement(request), staff.merchant or "", container(request).clock()
    batch, error = await _do(request, lambda: svc.instant(city, merchant, amount, key, now))
    if batch is None:
        return await _render(request, city, staff, 409, error=error, amount=amount)
    return await _render(
        request, city, staff, done={"amount": amount, "execution": batch.execution}
    )


@router.post("/c/{city}/counter/payouts/account")
async def register_account(request: Request, city: str, _: Csrf) -> Response:
    staff = _owner(request, city)
    form = await request.form()
    bank = forms.text(form, "bank", max_length=3)
    number = forms.text(form, "number", max_length=30).replace("-", "").replace(" ", "")
    holder = forms.text(form, "holder", max_length=70)
    if not (
        bank.isdigit() and len(bank) == 3 and number.isdigit() and 6 <= len(number) <= 20 and holder
    ):
        error = say(
            request,
            "Enter the bank's 3-digit code, the account number (digits) and the holder's name.",
        )
        return await _render(request, city, staff, 422, account_error=error)
    svc, merchant, now = _settlement(request), staff.merchant or "", container(request).clock()
    party = Party(holder, bank, number)
    digest, error = await _do(request, lambda: svc.register_account(city, merchant, party, now))
    if digest is None:
        return await _render(request, city, staff, 409, account_error=error)
    return await _render(request, city, staff, account_done=True)
