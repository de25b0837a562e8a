"""A terminal's request to its answer: the checks off the chain (terminal, card, expiry,
PIN), then the ledger's own commands (Hold, Capture, Release) signed by the card's key,
and the ledger's code turned into an ISO 8583 response code.

Ids: a hold's command id is derived from (city, terminal, RRN), so a duplicate
transmission is the same command and the ledger answers it with the first receipt (no
second debit); the same RRN with other contents (another STAN, amount or card) is a
different command under a used id, `id_reused`, answered 94. A reversal's id is derived
from (city, terminal, RRN, "release"); it names the hold of the same RRN (or the hold its
field 38 names), so a reversal that overtakes its original voids the hold id and the
original, if it ever arrives, is refused.

Nothing here raises to the host: an unexpected failure is logged (never the card number)
and answered 96.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import structlog

from localpay.domain import commands as c
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.services.cities.command_ids import derived_id
from localpay.services.payments.card import messages as m
from localpay.services.payments.card import numbers, pins
from localpay.services.payments.card.messages import CardAnswer, CardRequest
from localpay.services.payments.card.ports import ACTIVE, CardRecord, TerminalRecord

if TYPE_CHECKING:
    from localpay.services.payments.card.service import CardService

log = structlog.get_logger("localpay.cards")

#: The ledger's result codes as ISO 8583 response codes (field 39). Not listed: 96.
LEDGER_TO_ISO: Final = {
    "ok": m.APPROVED,
    "insufficient_funds": m.INSUFFICIENT_FUNDS,
    "card_not_bound": m.INVALID_CARD,
    "account_not_found": m.INVALID_CARD,
    # The card's key is no (longer a) key of the wallet: the card was unbound on the chain.
    "unknown_signer": m.INVALID_CARD,
    "signer_not_authorized": m.INVALID_CARD,
    "category_denied": m.NOT_PERMITTED_CARDHOLDER,
    "area_denied": m.NOT_PERMITTED_CARDHOLDER,
    "condition_not_met": m.NOT_PERMITTED_CARDHOLDER,
    "program_expired": m.NOT_PERMITTED_CARDHOLDER,
    "revenue_cap_exceeded": m.NOT_PERMITTED_CARDHOLDER,
    "merchant_not_active": m.NOT_PERMITTED_TERMINAL,
    "per_payment_limit_exceeded": m.OVER_LIMIT,
    "daily_limit_exceeded": m.OVER_LIMIT,
    "monthly_limit_exceeded": m.OVER_LIMIT,
    "id_reused": m.DUPLICATE,
    # A completion of a hold already completed, or of one the terminal reversed.
    "hold_closed": m.DUPLICATE,
    "hold_voided": m.DUPLICATE,
    "capture_exceeds_hold": m.OVER_LIMIT,
    "hold_not_found": m.NOT_PERMITTED_CARDHOLDER,
    "hold_expired": m.NOT_PERMITTED_CARDHOLDER,
    "reversal_window_closed": m.NOT_PERMITTED_CARDHOLDER,
}
#: A reversal whose hold is already given back: the money is back, the answer is 00.
RELEASED_ALREADY: Final = frozenset({"ok", "hold_closed"})
BALANCE_ENQUIRY: Final = "31"
REVERSALS: Final = frozenset({"0400", "0420"})


def answer(service: CardService, request: CardRequest) -> CardAnswer:
    try:
        return _answer(service, request)
    except Exception as exc:
        log.error(
            "card_answer_failed",
            mti=request.mti,
            terminal=request.terminal,
            stan=request.stan,
            error=type(exc).__name__,
            reason=str(exc)[:200],
        )
        _compensate(service, request)
        return CardAnswer(m.SYSTEM_MALFUNCTION)


def _compensate(service: CardService, request: CardRequest) -> None:
    """After a 96 to a hold or purchase, give back whatever it may have done: the ledger
    may have applied it (a failure after the commit, or a block that was durable only
    after the wait timed out). The terminal takes 96 as a decline and sends no reversal,
    so the host sends its own: sequenced after the hold, it releases or reverses it, or
    voids its id if it never came. No customer is declined and charged."""
    if request.mti not in {"0100", "0200"} or request.auth_code:
        return
    try:
        terminal = service.terminal(request.terminal)
        card = service.find_card(terminal.city, request.pan) if terminal and request.pan else None
        if terminal is not None and card is not None:
            _reverse(service, request, terminal, card)
    except Exception as exc:
        log.error("card_compensation_failed", terminal=request.terminal, error=type(exc).__name__)


def _answer(service: CardService, request: CardRequest) -> CardAnswer:
    if request.mti == "0800":
        return CardAnswer(m.APPROVED)
    terminal = service.terminal(request.terminal)
    if terminal is None:
        return CardAnswer(m.NOT_PERMITTED_TERMINAL)
    card = service.find_card(terminal.city, request.pan) if request.pan else None
    if request.mti in REVERSALS:
        # A reversal is honoured whatever became of the card since: the money goes back.
        return _reverse(service, request, terminal, card)
    if not service.merchant_active(terminal.city, terminal.merchant):
        return CardAnswer(m.NOT_PERMITTED_TERMINAL)
    refusal = _card_refusal(service, request, card)
    if refusal is not None or card is None:
        return CardAnswer(refusal or m.INVALID_CARD)
    if request.processing.startswith(BALANCE_ENQUIRY):
        return CardAnswer(m.APPROVED, balance=_balance(service, card))
    if request.mti == "0200" and request.auth_code:
        return _complete(service, request, terminal, card)
    return _hold(service, request, terminal, card, capture=request.mti == "0200")


def _card_refusal(
    service: CardService, request: CardRequest, card: CardRecord | None
) -> str | None:
    """Why the card may not be used now, checked in this order: unknown or not active
    (14), expired by our date or the terminal's field 14 (54), PIN (75 locked, 55 wrong)."""
    if card is None or card.status != ACTIVE:
        return m.INVALID_CARD
    now = service.clock()
    if numbers.expired(card.expiry, now):
        return m.EXPIRED_CARD
    if request.expiry and request.expiry != card.expiry:
        return m.EXPIRED_CARD if numbers.expired(request.expiry, now) else m.INVALID_CARD
    return _pin_refusal(service, request, card)


def _pin_refusal(service: CardService, request: CardRequest, card: CardRecord) -> str | None:
    """A card with a PIN is checked when the terminal sends a PIN block (a terminal with a
    PIN pad); five wrong tries in a row lock it until the counter resets it."""
    if not card.pin_hash:
        return None
    if card.pin_tries >= pins.MAX_TRIES:
        return m.PIN_TRIES_EXCEEDED
    if not request.pin_block:
        return None
    pin = pins.pin_of_block(request.pin_block, request.pan)
    if pin is not None and pins.pin_matches(service.hasher, card.pin_hash, pin):
        service.repo.right_pin(card.city, card.card)
        return None
    tries = service.repo.wrong_pin(card.city, card.card)
    return m.PIN_TRIES_EXCEEDED if tries >= pins.MAX_TRIES else m.WRONG_PIN


def hold_id(city: str, terminal: str, rrn: str) -> str:
    return derived_id(city, f"terminal:{terminal}", "card/hold", rrn)


def approval_code(hold: str) -> str:
    """Field 38: six characters of the hold's id (so a retry gets the same code)."""
    return hold[:6].upper()


def _hold(
    service: CardService,
    request: CardRequest,
    terminal: TerminalRecord,
    card: CardRecord,
    capture: bool,
) -> CardAnswer:
    command = hold_command(terminal, card, request.amount, request.stan, request.rrn, capture)
    receipt = _signed(service, terminal.city, card, command)
    return _approved(service, receipt, card, terminal, command.id)


def hold_command(
    terminal: TerminalRecord, card: CardRecord, amount: int, stan: str, rrn: str, capture: bool
) -> c.Hold:
    """The hold a terminal's 0100 (or, captured at once, 0200) makes, under the id a
    duplicate transmission finds again; the card's key signs it (`_signed`)."""
    return c.Hold(
        id=hold_id(terminal.city, terminal.terminal, rrn),
        city=terminal.city,
        wallet=card.wallet,
        merchant=terminal.merchant,
        amount=amount,
        card=card.card,
        terminal=terminal.terminal,
        stan=stan,
        rrn=rrn,
        capture=capture,
    )


def _complete(
    service: CardService, request: CardRequest, terminal: TerminalRecord, card: CardRecord
) -> CardAnswer:
    """A 0200 naming an earlier 0100's approval: that hold captured, for this amount."""
    city = terminal.city
    held = service.repo.approval(city, terminal.terminal, request.auth_code)
    if held is None:
        return CardAnswer(m.NOT_PERMITTED_CARDHOLDER)
    command = c.Capture(
        id=derived_id(city, f"terminal:{terminal.terminal}", "card/capture", request.rrn),
        city=city,
        hold=held,
        wallet=card.wallet,
        merchant=terminal.merchant,
        amount=request.amount,
    )
    receipt = _signed(service, city, card, command)
    if receipt.ok:  # a reversal of this completion by its own RRN finds the hold
        _remember(service, city, terminal.terminal, _by_rrn(request.rrn), held)
    return _approved(service, receipt, card, terminal, held)


def _by_rrn(rrn: str) -> str:
    """The approvals table's key of a completion's RRN (apart from the 6-character codes)."""
    return f"rrn:{rrn}"


def _reverse(
    service: CardService,
    request: CardRequest,
    terminal: TerminalRecord,
    card: CardRecord | None,
) -> CardAnswer:
    if card is None:
        return CardAnswer(m.INVALID_CARD)
    city = terminal.city
    named = request.auth_code and service.repo.approval(city, terminal.terminal, request.auth_code)
    completed = service.repo.approval(city, terminal.terminal, _by_rrn(request.rrn))
    held = named or completed or hold_id(city, terminal.terminal, request.rrn)
    command = c.Release(
        id=derived_id(city, f"terminal:{terminal.terminal}", "card/release", request.rrn),
        city=city,
        hold=held,
        wallet=card.wallet,
        merchant=terminal.merchant,
    )
    receipt = _signed(service, city, card, command)
    if receipt.code in RELEASED_ALREADY:
        return CardAnswer(m.APPROVED, balance=_balance(service, card, receipt))
    return _iso(receipt)


def _signed(service: CardService, city: str, card: CardRecord, command: c.Command) -> Receipt:
    key = service.card_key(city, card.card)
    return service.ledgers.execute(city, sign_command(command, [key]))


def _approved(
    service: CardService,
    receipt: Receipt,
    card: CardRecord,
    terminal: TerminalRecord,
    hold: str,
) -> CardAnswer:
    if not receipt.ok:
        return _iso(receipt)
    code = approval_code(hold)
    _remember(service, terminal.city, terminal.terminal, code, hold)
    return CardAnswer(m.APPROVED, auth_code=code, balance=_balance(service, card, receipt))


def _remember(service: CardService, city: str, terminal: str, code: str, hold: str) -> None:
    """Keep (terminal, approval code) -> hold for a later completion or reversal.

    The ledger has decided by now and its block is durable: the terminal must hear that
    answer whatever happens here, or its customer would be "failed but deducted". So a
    store that refuses this write (a busy SQLite file) is logged, never answered 96; the
    reversal still finds the hold by its id from terminal and RRN, and a completion by
    code then gets 57 and the terminal sends a purchase instead."""
    try:
        service.repo.add_approval(city, terminal, code, hold)
    except Exception:  # the store's own error types are the adapters'
        log.exception("card_approval_not_kept", terminal=terminal, hold=hold)


def _iso(receipt: Receipt) -> CardAnswer:
    code = LEDGER_TO_ISO.get(receipt.code)
    if code is None:
        log.error("card_ledger_code_unmapped", code=receipt.code, tx=receipt.id)
        return CardAnswer(m.SYSTEM_MALFUNCTION)
    return CardAnswer(code)


def _balance(service: CardService, card: CardRecord, receipt: Receipt | None = None) -> int:
    """Field 54: the wallet's balance after (the receipt's, else read from the state)."""
    after = None if receipt is None else receipt.balance_of(card.wallet)
    if after is not None:
        return after
    return service.wallet_balance(card.city, card.wallet).balance
