"""Holds: money set aside for one merchant, then captured or given back.

A card terminal's authorization and an online checkout's approval both hold money
before the merchant takes it, in ledger steps of their own:

1. `hold` draws the amount out of the wallet's eligible lots by the payment rules, so
   a hold that succeeds is a payment that will succeed; the money is then neither the
   wallet's nor the merchant's (it stays in the supply as held). A card hold binds the
   terminal, STAN and RRN, and is signed by the card's bound key; a checkout hold binds
   the intent and the merchant's order, and is signed by the citizen's own key.
2. `capture` pays the merchant all or part of it, and gives the rest back at once. It
   makes the payment record (id = the hold's), so refunds work as for any payment.
3. `release` gives a hold back: the merchant cancels, the card reverses, or the
   operator's job ends a hold past HOLD_MS_MAX. A card's reversal within
   REVERSAL_MS_MAX also undoes a capture. A release of a hold the ledger has not
   seen voids that id, so an original that a reversal overtook never debits.

A terminal's duplicate transmission is the same command id (derived from terminal and
RRN by the card service), answered from the first receipt: no second debit.
"""

from __future__ import annotations

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.limits import CARDS_PER_WALLET_MAX, HOLD_MS_MAX, REVERSAL_MS_MAX
from localpay.domain.money import valid_amount
from localpay.ledger import spending
from localpay.ledger.results import Result, rejected
from localpay.ledger.state import (
    CAPTURED,
    HELD,
    MERCHANT_ACTIVE,
    RELEASED,
    REVERSED,
    CityState,
    Draw,
    HoldRecord,
    Merchant,
    Payment,
    Void,
    Wallet,
)

Outcome = tuple[Result, list[str]]
_NOTHING: list[str] = []


def bind_card(state: CityState, cmd: c.BindCard, signers: frozenset[str], now: int) -> Outcome:
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    if not signers.intersection(wallet.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if not cmd.active:
        if wallet.cards.get(cmd.card) != cmd.key:
            return rejected(Code.CARD_NOT_BOUND), _NOTHING
        del wallet.cards[cmd.card]
    elif cmd.card not in wallet.cards and len(wallet.cards) >= CARDS_PER_WALLET_MAX:
        return rejected(Code.CARD_LIMIT_EXCEEDED), _NOTHING
    else:
        wallet.cards[cmd.card] = cmd.key
    return Result(code=Code.OK.value), [f"w:{wallet.id}"]


def _channel_fault(cmd: c.Hold) -> bool:
    """A hold is a card's (card, terminal, STAN, RRN; no intent) or a checkout's
    (intent and order; no card fields): anything else is ambiguous."""
    card = (cmd.card, cmd.terminal, cmd.stan, cmd.rrn)
    if all(card):
        return bool(cmd.intent or cmd.order)
    if any(card) or cmd.capture:
        return True  # a checkout is captured by its merchant, never at approval
    return not (cmd.intent and cmd.order)


def _hold_signer(wallet: Wallet, cmd: c.Hold, signers: frozenset[str]) -> Code:
    if cmd.card:
        key = wallet.cards.get(cmd.card)
        if key is None:
            return Code.CARD_NOT_BOUND
        return Code.OK if key in signers else Code.SIGNER_NOT_AUTHORIZED
    if not signers.intersection(wallet.keys):
        return Code.SIGNER_NOT_AUTHORIZED
    # A card-only wallet's key is the server's: it pays with its card, never online.
    return Code.EVIDENCE_MISSING if wallet.custodial else Code.OK


def hold(state: CityState, cmd: c.Hold, signers: frozenset[str], now: int) -> Outcome:
    wallet = state.wallets.get(cmd.wallet)
    if wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    if _channel_fault(cmd):
        return rejected(Code.HOLD_INVALID), _NOTHING
    if (verdict := _hold_signer(wallet, cmd, signers)) is not Code.OK:
        return rejected(verdict), _NOTHING
    merchant = state.merchants.get(cmd.merchant)
    if merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), _NOTHING
    if cmd.id in state.voids:
        return rejected(Code.HOLD_VOIDED), _NOTHING
    if cmd.intent and cmd.intent in state.intents:
        return rejected(Code.INTENT_USED), _NOTHING
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), _NOTHING
    plan = spending.plan_payment(state.programs, wallet, merchant, cmd.amount, now)
    if isinstance(plan, Code):
        return rejected(plan), _NOTHING
    draws = spending.take(state.programs, wallet, plan, now)
    record = HoldRecord(
        id=cmd.id,
        wallet=wallet.id,
        merchant=merchant.id,
        amount=cmd.amount,
        status=HELD,
        at_ms=now,
        expires_ms=now + HOLD_MS_MAX,
        draws=draws,
        card=cmd.card,
        terminal=cmd.terminal,
        stan=cmd.stan,
        rrn=cmd.rrn,
        intent=cmd.intent,
        order=cmd.order,
    )
    state.add_hold(record)
    touched = [f"w:{wallet.id}", f"h:{record.id}"]
    if cmd.capture:
        _capture(state, record, wallet, merchant, cmd.amount, now)
        touched += [f"m:{merchant.id}", f"x:{record.id}"]
    lots = [(d.lot, d.amount) for d in draws]
    return Result(code=Code.OK.value, lots=lots, balance=wallet.balance()), touched


def _split(draws: list[Draw], amount: int) -> tuple[list[Draw], list[Draw]]:
    """The draws that make up `amount`, first drawn first, and the rest."""
    kept: list[Draw] = []
    rest: list[Draw] = []
    for draw in draws:
        part = min(draw.amount, amount)
        amount -= part
        if part:
            kept.append(
                Draw(draw.lot, draw.program, draw.version, part, draw.expires_ms, draw.origin)
            )
        if draw.amount > part:
            rest.append(
                Draw(
                    draw.lot,
                    draw.program,
                    draw.version,
                    draw.amount - part,
                    draw.expires_ms,
                    draw.origin,
                )
            )
    return kept, rest


def _give_back(wallet: Wallet, hold: HoldRecord, draws: list[Draw], now: int) -> None:
    """Put held draws back into their lots, with the caps' room they used."""
    if draws:
        total = sum(d.amount for d in draws)
        back = Payment(hold.id, wallet.id, hold.merchant, total, 0, hold.at_ms, draws)
        spending.restore(wallet, back, total, now)


def _capture(
    state: CityState, hold: HoldRecord, wallet: Wallet, merchant: Merchant, amount: int, now: int
) -> None:
    kept, rest = _split(hold.draws, amount)
    _give_back(wallet, hold, rest, now)
    # The payment dates from the hold: the caps' room was taken then, and a refund gives
    # it back by that date (spending.restore).
    state.add_payment(Payment(hold.id, wallet.id, merchant.id, amount, 0, hold.at_ms, kept))
    merchant.balance += amount
    hold.status, hold.captured, hold.captured_ms, hold.draws = CAPTURED, amount, now, []


def _card_key(wallet: Wallet, hold: HoldRecord) -> str | None:
    return wallet.cards.get(hold.card) if hold.card else None


def capture(state: CityState, cmd: c.Capture, signers: frozenset[str], now: int) -> Outcome:
    merchant = state.merchants.get(cmd.merchant)
    wallet = state.wallets.get(cmd.wallet)
    if merchant is None or wallet is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    record = state.holds.get(cmd.hold)
    if record is None or record.wallet != wallet.id or record.merchant != merchant.id:
        return rejected(Code.HOLD_NOT_FOUND), _NOTHING
    if not signers.intersection(merchant.keys) and _card_key(wallet, record) not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if not valid_amount(cmd.amount):
        return rejected(Code.INVALID_AMOUNT), _NOTHING
    if record.status != HELD:
        return rejected(Code.HOLD_CLOSED), _NOTHING
    if now >= record.expires_ms:
        return rejected(Code.HOLD_EXPIRED), _NOTHING
    if cmd.amount > record.amount:
        return rejected(Code.CAPTURE_EXCEEDS_HOLD), _NOTHING
    if merchant.status != MERCHANT_ACTIVE:
        return rejected(Code.MERCHANT_NOT_ACTIVE), _NOTHING
    lots = [(d.lot, d.amount) for d in _split(record.draws, cmd.amount)[0]]
    _capture(state, record, wallet, merchant, cmd.amount, now)
    result = Result(code=Code.OK.value, lots=lots, balance=wallet.balance())
    return result, [f"w:{wallet.id}", f"m:{merchant.id}", f"h:{record.id}", f"x:{record.id}"]


def release(state: CityState, cmd: c.Release, signers: frozenset[str], now: int) -> Outcome:
    wallet = state.wallets.get(cmd.wallet)
    merchant = state.merchants.get(cmd.merchant)
    if wallet is None or merchant is None:
        return rejected(Code.ACCOUNT_NOT_FOUND), _NOTHING
    record = state.holds.get(cmd.hold)
    if record is None:
        return _void(state, cmd, wallet, merchant, signers, now)
    if record.wallet != wallet.id or record.merchant != merchant.id:
        return rejected(Code.HOLD_NOT_FOUND), _NOTHING
    by_party = bool(signers.intersection(merchant.keys)) or _card_key(wallet, record) in signers
    if not by_party and state.operator_key() not in signers:
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if record.status == CAPTURED and record.card and _card_key(wallet, record) in signers:
        return _reverse(state, record, wallet, merchant, now)
    if record.status != HELD:
        return rejected(Code.HOLD_CLOSED), _NOTHING
    if not by_party and now < record.expires_ms:
        return rejected(Code.HOLD_NOT_EXPIRED), _NOTHING
    lots = [(d.lot, d.amount) for d in record.draws]
    _give_back(wallet, record, record.draws, now)
    record.status, record.draws = RELEASED, []
    result = Result(code=Code.OK.value, lots=lots, balance=wallet.balance())
    return result, [f"w:{wallet.id}", f"h:{record.id}"]


def _reverse(
    state: CityState, record: HoldRecord, wallet: Wallet, merchant: Merchant, now: int
) -> Outcome:
    """A card's reversal of a captured payment: the terminal never got the answer."""
    if now >= record.captured_ms + REVERSAL_MS_MAX:
        return rejected(Code.REVERSAL_WINDOW_CLOSED), _NOTHING
    payment = state.payments.get(record.id)
    if payment is None or payment.refunded:
        return rejected(Code.HOLD_CLOSED), _NOTHING  # refunded in part: refund the rest
    if merchant.balance < payment.amount:
        return rejected(Code.INSUFFICIENT_FUNDS), _NOTHING
    restored = spending.restore(wallet, payment, payment.amount, now)
    merchant.balance -= payment.amount
    payment.refunded = payment.amount
    record.status = REVERSED
    result = Result(code=Code.OK.value, lots=restored, balance=wallet.balance())
    touched = [f"w:{wallet.id}", f"m:{merchant.id}", f"h:{record.id}", f"x:{record.id}"]
    return result, touched


def _void(
    state: CityState,
    cmd: c.Release,
    wallet: Wallet,
    merchant: Merchant,
    signers: frozenset[str],
    now: int,
) -> Outcome:
    """A release of a hold not seen: a reversal that overtook its original, or that
    stands for one lost on the way. Only the merchant or one of the wallet's cards can
    void an id (the operator ends holds only once they exist and expired)."""
    by_card = not signers.isdisjoint(wallet.cards.values())
    if not by_card and not signers.intersection(merchant.keys):
        return rejected(Code.SIGNER_NOT_AUTHORIZED), _NOTHING
    if cmd.hold in state.voids:
        return rejected(Code.HOLD_CLOSED), _NOTHING
    state.add_void(cmd.hold, Void(now))
    return Result(code=Code.OK.value, lots=[], balance=wallet.balance()), [f"v:{cmd.hold}"]
