"""The console's card counter: issue a prepaid card (shown in full once, masked after),
a wallet's cards and balance per program, cash top-up, lost/blocked, PIN; the terminals
of merchants. services/payments/card does the work; the city's officials write, its
auditors read.

Writes answer with a redirect back to the wallet's page (`?said=<code>`), so a reload
never sends them twice (the idempotency key is in the form too); the issue answers with
the new card's page itself, the one place the number is shown, never cached.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from localpay.adapters.clock import now_ms
from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.entrypoints.web import forms
from localpay.entrypoints.web.context import say
from localpay.entrypoints.web.deps import container
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.services.payments.card import numbers
from localpay.services.payments.card.errors import BadPin, LedgerRefused
from localpay.services.payments.card.service import CardService
from localpay.services.registry.accounts import BANKS
from localpay.services.settlement.views import account_shown
from localpay.services.settlement.wallet_accounts import WalletAccountRefused, WalletAccounts
from localpay.services.wallets.preview import load_programs, program_name

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

SAID: Final = {
    "topped": N_("Topped up. The new balance is below."),
    "lost": N_("The card is reported lost. No shop can take it any more."),
    "blocked": N_("The card is blocked. No shop can take it any more."),
    "pin": N_("The PIN is changed. Wrong tries so far are forgotten."),
    "added": N_("The terminal is registered."),
    "removed": N_("The terminal is removed. It can no longer take cards."),
    "bad_pin": N_("A PIN is 4 to 6 digits."),
    "amount": N_("Type the amount in whole won, for example 50,000."),
    "limit": N_("The ledger refused it: it is over a limit of the program."),
    "conflict": N_("This card is not active, so it cannot be changed."),
    "refused": N_("That cannot be done. Check what you typed."),
    "not_found": N_("There is no such wallet, card or terminal."),
    "account": N_("The refund account is kept. Refunds owed are sent to it with the next batch."),
    "bad_account": N_(
        "Check the bank, the account number (10 to 16 digits) and the holder's name."
    ),
}
OK: Final = frozenset({"topped", "lost", "blocked", "pin", "added", "removed", "account"})
MARKS: Final = ("lost", "blocked")


def _cards(request: Request) -> CardService:
    cards: CardService = container(request).cards
    return cards


def _said(request: Request) -> dict[str, Any]:
    said = request.query_params.get("said", "")
    return {"said": say(request, SAID[said]) if said in SAID else "", "said_ok": said in OK}


def _wallet_id(raw: str) -> str:
    wallet = raw.strip()
    if not (3 <= len(wallet) <= 40) or not all(ch.isalnum() or ch in "-_" for ch in wallet):
        raise PageError(404, N_("There is no such wallet, card or terminal."))
    return wallet


@router.get("/c/{city}/console/cards")
def cards_home(request: Request, city: str) -> Response:
    who = official(request, city)
    wallet = request.query_params.get("wallet", "").strip()
    if wallet:  # the "find a wallet" form
        return RedirectResponse(f"/c/{city}/console/cards/wallet/{_wallet_id(wallet)}", 303)
    context = {**console_context(request, city, who), **_said(request), "uuid": str(uuid.uuid4())}
    return page(request, "console/cards.html", context)


@router.post("/c/{city}/console/cards/issue")
async def issue(request: Request, city: str, _: Csrf) -> Response:
    who = official(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    wallet = forms.text(form, "wallet", max_length=40) or None
    pin = forms.text(form, "pin", max_length=6) or None
    try:
        issued = _cards(request).issue(who, city, key, wallet, pin)
    except BadPin:
        raise PageError(422, N_("A PIN is 4 to 6 digits.")) from None
    context = {
        **console_context(request, city, who),
        "card": issued.view,
        "number": numbers.grouped(issued.number),
        "bind": issued.bind,
    }
    response = page(request, "console/cards_issued.html", context, status=201)
    response.headers["Cache-Control"] = "no-store"  # the number: never in a cache
    return response


@router.get("/c/{city}/console/cards/wallet/{wallet}")
def wallet_cards(request: Request, city: str, wallet: str) -> Response:
    who = official(request, city)
    cards = _cards(request)
    found = cards.cards(who, city, wallet)
    try:
        balance = cards.balance(who, city, wallet)
    except NotFound:
        raise PageError(404, N_("There is no such wallet, card or terminal.")) from None
    store = container(request).store
    programs = load_programs(store, city, (p.program for p in balance.by_program))
    context = {
        **console_context(request, city, who),
        **_said(request),
        "program_names": {p: program_name(programs.get(p), p) for p in programs},
        "wallet": wallet,
        "cards": found,
        "custodial": any(card.custodial for card in found),
        "balance": balance,
        "uuid": str(uuid.uuid4()),
        **_refund_account(request, city, wallet),
    }
    return page(request, "console/cards_wallet.html", context)


def _refund_account(request: Request, city: str, wallet: str) -> dict[str, Any]:
    """A card-only wallet's refund account (환불받을 계좌), masked, and the banks to choose."""
    settlement = getattr(container(request), "settlement", None)
    stored = None if settlement is None else settlement.account_of(city, wallet)
    shown = "" if stored is None else account_shown(stored.party)
    return {"refund_account": shown, "banks": sorted(BANKS.items(), key=lambda b: b[1][0])}


@router.post("/c/{city}/console/cards/wallet/{wallet}/refund-account")
async def refund_account(request: Request, city: str, wallet: str, _: Csrf) -> Response:
    """Given at the card counter by a citizen without a phone: the official registers
    it (the wallet's only key is the server's own, so the official is the authority)."""
    official(request, city)
    form = await request.form()
    where = f"cards/wallet/{_wallet_id(wallet)}"
    accounts = WalletAccounts(container(request).settlement)
    bank = forms.text(form, "bank", max_length=3)
    number = forms.text(form, "number", max_length=24)
    holder = forms.text(form, "holder", max_length=40)
    said = "account"
    try:
        accounts.register_for_card(city, wallet, bank, number, holder, now_ms())
    except WalletAccountRefused:
        said = "bad_account"
    except NotFound:
        said = "not_found"
    return RedirectResponse(f"/c/{city}/console/{where}?said={said}", status_code=303)


def _back(city: str, where: str, call: Callable[[], Any], done: str) -> Response:
    """Do it, then back to `where` with one message in plain words."""
    try:
        call()
        said = done
    except BadPin:
        said = "bad_pin"
    except LedgerRefused:
        said = "limit"
    except NotFound:
        said = "not_found"
    except Conflict:
        said = "conflict"
    except Refused:
        said = "refused"
    return RedirectResponse(f"/c/{city}/console/{where}?said={said}", status_code=303)


@router.post("/c/{city}/console/cards/wallet/{wallet}/topup")
async def top_up(request: Request, city: str, wallet: str, _: Csrf) -> Response:
    who = official(request, city)
    form = await request.form()
    key = forms.idempotency_key(form)
    amount = forms.won(form, "amount")
    where = f"cards/wallet/{_wallet_id(wallet)}"
    if amount is None:
        return RedirectResponse(f"/c/{city}/console/{where}?said=amount", status_code=303)
    program = forms.text(form, "program", max_length=40) or "general"
    cards = _cards(request)
    return _back(
        city, where, lambda: cards.top_up(who, city, wallet, program, amount, key), "topped"
    )


def _card_form(form: FormData) -> tuple[str, str]:
    """The card (its id) and the wallet page to go back to."""
    card = forms.text(form, "card", max_length=64)
    wallet = _wallet_id(forms.text(form, "wallet", max_length=40))
    return card, f"cards/wallet/{wallet}"


@router.post("/c/{city}/console/cards/mark")
async def mark(request: Request, city: str, _: Csrf) -> Response:
    who = official(request, city)
    form = await request.form()
    card, where = _card_form(form)
    status = forms.text(form, "status", max_length=10)
    if status not in MARKS:
        raise PageError(422, N_("Some of what you entered is too long or not allowed."))
    cards = _cards(request)
    return _back(city, where, lambda: cards.mark(who, city, card, status), status)


@router.post("/c/{city}/console/cards/pin")
async def set_pin(request: Request, city: str, _: Csrf) -> Response:
    who = official(request, city)
    form = await request.form()
    card, where = _card_form(form)
    pin = forms.text(form, "pin", max_length=6)
    cards = _cards(request)
    return _back(city, where, lambda: cards.set_pin(who, city, card, pin or None), "pin")


@router.get("/c/{city}/console/terminals")
def terminals(request: Request, city: str) -> Response:
    who = official(request, city)
    context = {
        **console_context(request, city, who),
        **_said(request),
        "terminals": _cards(request).terminals(who, city, None),
    }
    return page(request, "console/cards_terminals.html", context)


@router.post("/c/{city}/console/terminals")
async def add_terminal(request: Request, city: str, _: Csrf) -> Response:
    who = official(request, city)
    form = await request.form()
    terminal = forms.text(form, "terminal", max_length=8).upper()
    merchant = forms.text(form, "merchant", max_length=40)
    cards = _cards(request)
    add = lambda: cards.add_terminal(who, city, terminal, merchant)  # noqa: E731
    return _back(city, "terminals", add, "added")


@router.post("/c/{city}/console/terminals/{terminal}/remove")
async def remove_terminal(request: Request, city: str, terminal: str, _: Csrf) -> Response:
    who = official(request, city)
    cards = _cards(request)
    remove = lambda: cards.remove_terminal(who, city, terminal)  # noqa: E731
    return _back(city, "terminals", remove, "removed")
