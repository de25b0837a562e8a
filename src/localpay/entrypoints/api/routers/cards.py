"""Prepaid cards over HTTP: the counter services of the city's officials (issue, block,
report lost, reissue, PIN, top-up, balance) and the terminals of merchants (officials or
the merchant's owner). services/payments/card does the work; the terminals themselves
speak ISO 8583 to the card host (entrypoints/cardhost), not this API.

A new card's number is in the answer once: the answer carries `Cache-Control: no-store`,
so the idempotency records never keep it (a retry answers 409 shown-once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictInt

from localpay.domain.codes import Code
from localpay.domain.errors import Conflict, LocalpayError, NotFound
from localpay.entrypoints.api.deps import container_of, known_city, require
from localpay.entrypoints.api.problems import api_problem, ledger_problem, problem, responses
from localpay.entrypoints.api.routers.commands import ledger_errors
from localpay.services.payments.card.errors import LedgerRefused
from localpay.services.payments.card.service import CardService

router = APIRouter(tags=["prepaid cards"])
_BASE = "/v1/cities/{city}"
_STAFF = ("unauthenticated", "not_found")
_WRITE = (*_STAFF, "refused", "conflict", "validation_failed")


class IssueIn(BaseModel):
    wallet: str | None = Field(
        None, description="an existing wallet; none: a new card-only wallet (custodial)"
    )
    pin: str | None = Field(None, description="4 to 6 digits; kept only as an argon2 hash")


class PinIn(BaseModel):
    pin: str | None = Field(description="4 to 6 digits; null removes the PIN")


class TopUpIn(BaseModel):
    program: str = Field(description="the sale program bought, e.g. general")
    amount: Annotated[StrictInt, Field(gt=0, description="won taken at the counter")]


class TerminalIn(BaseModel):
    terminal: str = Field(description="ISO 8583 field 41: 8 letters or digits")
    merchant: str


class CardOut(BaseModel):
    card: str = Field(description="the card id (HMAC of the number), as the chain knows it")
    wallet: str
    last4: str
    masked: str
    expiry: str = Field(description="YYMM")
    status: str = Field(description="active, lost, blocked or replaced")
    custodial: bool = Field(description="a card-only wallet, whose key the city holds")
    pin: bool
    pin_locked: bool = Field(description="5 wrong PINs in a row; a new PIN unlocks it")
    bound: bool = Field(description="the chain has the card bound to the wallet")
    issued_ms: int
    replaces: str = ""


class IssuedOut(BaseModel):
    view: CardOut
    number: str = Field(description="the card number, shown this once")
    bind: str = Field(
        "",
        description="for a wallet with its own key: the BindCard command (canonical JSON)"
        " its holder signs and sends to POST /v1/cities/{city}/cards/bindings; else empty",
    )


class ProgramBalanceOut(BaseModel):
    program: str
    amount: int


class BalanceOut(BaseModel):
    wallet: str
    balance: int
    by_program: list[ProgramBalanceOut]


class TopUpOut(BaseModel):
    wallet: str
    order: str
    paid: int
    credited: int = Field(description="units credited: paid and the sale's discount")
    balance: BalanceOut


class TerminalOut(BaseModel):
    terminal: str
    city: str
    merchant: str
    added_ms: int


def _cards(request: Request, city: str) -> CardService:
    container = container_of(request)
    known_city(container, city)
    cards: CardService = container.cards
    return cards


def _key(request: Request) -> str:
    return request.headers["idempotency-key"]  # the middleware refused a POST without one


def _answer(call: Callable[[], Any], status: int = 200, secret: bool = False) -> Response:
    """The service's answer as JSON; its refusals as problems with their own code."""
    try:
        with ledger_errors():
            result = call()
    except LedgerRefused as exc:
        if exc.code in Code._value2member_map_:
            return ledger_problem(exc.code, str(exc))
        return api_problem("refused", str(exc))
    except LocalpayError as exc:
        kind = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
        return problem(kind, exc.code, str(exc).split(":")[0], str(exc))
    headers = {"Cache-Control": "no-store"} if secret else None
    body = None if result is None else msgspec.to_builtins(result)
    if body is None:
        return Response(status_code=204)
    return JSONResponse(body, status_code=status, headers=headers)


@router.post(
    _BASE + "/cards",
    status_code=201,
    summary="Issue a card (officials): for a new card-only wallet, or an existing wallet."
    " The number is shown once",
    response_model=IssuedOut,
    responses=responses(*_WRITE),
)
def issue(request: Request, city: str, body: IssueIn) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(
        lambda: cards.issue(who, city, _key(request), body.wallet, body.pin), 201, secret=True
    )


@router.get(
    _BASE + "/wallets/{wallet}/cards",
    summary="A wallet's cards (the city's staff): last 4, status, expiry, PIN state",
    response_model=list[CardOut],
    responses=responses(*_STAFF),
)
def wallet_cards(request: Request, city: str, wallet: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.cards(who, city, wallet))


@router.get(
    _BASE + "/cards/{card}",
    summary="One card by its id (the city's staff)",
    response_model=CardOut,
    responses=responses(*_STAFF),
)
def card(request: Request, city: str, card: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.card(who, city, card))


@router.post(
    _BASE + "/cards/{card}/block",
    summary="Block a card (officials): every terminal refuses it (14) from now on",
    response_model=CardOut,
    responses=responses(*_WRITE),
)
def block(request: Request, city: str, card: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.mark(who, city, card, "blocked"))


@router.post(
    _BASE + "/cards/{card}/lost",
    summary="Report a card lost (officials): every terminal refuses it (14) from now on",
    response_model=CardOut,
    responses=responses(*_WRITE),
)
def lost(request: Request, city: str, card: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.mark(who, city, card, "lost"))


@router.post(
    _BASE + "/cards/{card}/reissue",
    status_code=201,
    summary="A new card for the same wallet (officials), the PIN carried over; the old card"
    " is replaced. The number is shown once",
    response_model=IssuedOut,
    responses=responses(*_WRITE),
)
def reissue(request: Request, city: str, card: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.reissue(who, city, card, _key(request)), 201, secret=True)


@router.post(
    _BASE + "/cards/{card}/pin",
    summary="Set, reset or remove a card's PIN (officials); unlocks a locked PIN",
    response_model=CardOut,
    responses=responses(*_WRITE),
)
def set_pin(request: Request, city: str, card: str, body: PinIn) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.set_pin(who, city, card, body.pin))


@router.post(
    _BASE + "/wallets/{wallet}/top-ups",
    status_code=201,
    summary="Top up a card-only wallet with cash at the counter (officials): the wallet's"
    " order of the sale, then the counter's deposit",
    response_model=TopUpOut,
    responses=responses(*_WRITE, "purchase_limit_exceeded", "unavailable"),
)
def top_up(request: Request, city: str, wallet: str, body: TopUpIn) -> Response:
    cards = _cards(request, city)
    who = require(request)
    key = _key(request)
    return _answer(lambda: cards.top_up(who, city, wallet, body.program, body.amount, key), 201)


@router.get(
    _BASE + "/wallets/{wallet}/card-balance",
    summary="A wallet's balance per program, as the counter tells the cardholder",
    response_model=BalanceOut,
    responses=responses(*_STAFF),
)
def balance(request: Request, city: str, wallet: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.balance(who, city, wallet))


@router.post(
    _BASE + "/terminals",
    status_code=201,
    summary="Register a terminal to a merchant (officials or the merchant's owner)",
    response_model=TerminalOut,
    responses=responses(*_WRITE),
)
def add_terminal(request: Request, city: str, body: TerminalIn) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.add_terminal(who, city, body.terminal, body.merchant), 201)


@router.get(
    _BASE + "/terminals",
    summary="Terminals of the city (staff) or of one merchant (staff or its owner)",
    response_model=list[TerminalOut],
    responses=responses(*_STAFF),
)
def terminals(request: Request, city: str, merchant: str | None = Query(None)) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.terminals(who, city, merchant))


@router.delete(
    _BASE + "/terminals/{terminal}",
    status_code=204,
    summary="Remove a terminal (officials or the merchant's owner): it is refused (58) after",
    responses=responses(*_STAFF),
)
def remove_terminal(request: Request, city: str, terminal: str) -> Response:
    cards = _cards(request, city)
    who = require(request)
    return _answer(lambda: cards.remove_terminal(who, city, terminal))
