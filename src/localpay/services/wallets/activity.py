"""A wallet's transactions as its citizen reads them: what kind, with whom, how much,
when, and which programs a payment drew from.

Read from the chain's records (the transaction, its block's time) and the state (a
payment's draws while its record stays, the wallet's lots): no personal data, and only
for the wallet the caller says is the reader's own (the pages check that first).
"""

from __future__ import annotations

from typing import Final

import msgspec

from localpay.domain.commands import (
    BatchCredit,
    BindCard,
    CancelPurchase,
    Capture,
    Cashback,
    ClaimCode,
    Command,
    ConfirmPurchase,
    Credit,
    Expire,
    Hold,
    LapseOrder,
    OpenWallet,
    OrderPurchase,
    Pay,
    PresentCode,
    Refund,
    RefundBalance,
    Release,
    ReturnPayout,
    SettlePayout,
    Transfer,
    decode_envelope,
)
from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.state import Batch, HoldRecord, Payment, Purchase
from localpay.services.wallets.preview import load_programs, load_wallet, program_name

#: The kinds of a wallet's line; the pages word them (결제, 환불, 선물, 받음, 지급, 소멸,
#: 구매 주문, 구매, 주문 시간 지남, 구매 취소, 잔액 환불, 캐시백, 입금 반환, 기한 지나 환불).
PAID: Final = "paid"
REFUNDED: Final = "refunded"
GAVE: Final = "gave"
RECEIVED: Final = "received"
CREDITED: Final = "credited"
EXPIRED: Final = "expired"
OPENED: Final = "opened"
ORDERED: Final = "ordered"
BOUGHT: Final = "bought"
LAPSED: Final = "lapsed"
CANCELLED: Final = "cancelled"
BALANCE_REFUND: Final = "balance_refund"
CASHBACK: Final = "cashback"
DEPOSIT_RETURNED: Final = "deposit_returned"
EXPIRED_OWED: Final = "expired_owed"
#: Cards, checkouts and one-time codes (ledger/holds.py, ledger/offers.py): money held for
#: a shop (a card authorization, an approved online order), the rest of a hold given back
#: at its capture, a hold given back or reversed, a code shown, a card linked.
HELD: Final = "held"
CAPTURED: Final = "captured"
RELEASED: Final = "released"
VOIDED: Final = "voided"
CODE_SHOWN: Final = "code_shown"
CARD_LINKED: Final = "card_linked"
#: A refund owed to the citizen's bank account: the bank paid it, or sent it back.
PAYOUT_PAID: Final = "payout_paid"
PAYOUT_RETURNED: Final = "payout_returned"
OTHER: Final = "other"

#: Kinds whose `party` is a program (the pages show its name).
PROGRAM_KINDS: Final = frozenset(
    {CREDITED, ORDERED, BOUGHT, LAPSED, CANCELLED, BALANCE_REFUND, CASHBACK, DEPOSIT_RETURNED}
)


class Drawn(msgspec.Struct, frozen=True):
    program: str
    name: str
    amount: int


class Line(msgspec.Struct, frozen=True):
    """One transaction of the wallet. `signed` is the amount with its direction for the
    wallet (a payment negative, a refund positive); `party` the shop (merchant id), the
    other wallet, or the program credited or bought; `code` "ok" or why the ledger
    refused it. A purchase's line also says the discount it brought (`bonus`), and a
    line that leaves won owed back to the citizen (a cancellation, a balance refund,
    purchased money past its validity) how much (`owed`: a pending payout)."""

    id: str
    seq: int
    kind: str
    party: str
    amount: int
    signed: int
    at_ms: int
    code: str
    bonus: int = 0
    owed: int = 0

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def _block_time(store: Store, city: str, height: int, cache: dict[int, int]) -> int:
    if height not in cache:
        found = next(iter(store.blocks(city, height, height + 1)), None)
        header = msgspec.json.decode(found.header_bytes, type=BlockHeader) if found else None
        cache[height] = header.time_ms if header else 0
    return cache[height]


def _kind(command: Command, wallet: str, result: Result) -> tuple[str, str, int]:
    """(kind, party, amount) of a command for `wallet`, from the command and its result."""
    lots = result.lots or []
    match command:
        case Pay():
            return PAID, command.merchant, -command.amount
        case Refund():
            return REFUNDED, command.merchant, command.amount
        case Transfer() if command.wallet == wallet:
            return GAVE, command.to, -command.amount
        case Transfer():
            return RECEIVED, command.wallet, command.amount
        case Credit():
            return CREDITED, command.program, command.amount
        case BatchCredit():
            return CREDITED, "", command.amount  # the program is the batch's: see _party
        case OpenWallet():
            return OPENED, "", 0
        case Expire():
            return EXPIRED, "", -sum(amount for _, amount in lots)
        case OrderPurchase():
            return ORDERED, command.program, 0  # no won moved yet: the order waits
        case ConfirmPurchase() if lots and lots[0][1] == 0:
            return DEPOSIT_RETURNED, "", 0  # a late deposit that no longer fit
        case ConfirmPurchase():
            return BOUGHT, "", sum(amount for _, amount in lots)
        case LapseOrder():
            return LAPSED, "", 0
        case CancelPurchase():
            return CANCELLED, "", -(lots[0][1] if lots else 0)
        case RefundBalance():
            return BALANCE_REFUND, "", 0
        case Cashback():
            return CASHBACK, command.program, sum(amount for _, amount in lots)
        case Hold() if command.capture:
            return PAID, command.merchant, -command.amount
        case Hold():
            return HELD, command.merchant, -command.amount
        case ClaimCode():
            return PAID, command.merchant, -command.amount
        case Capture():
            return CAPTURED, command.merchant, 0  # the rest given back: see _details
        case Release() if not lots:
            return VOIDED, command.merchant, 0  # a reversal before its hold: nothing moved
        case Release():
            return RELEASED, command.merchant, sum(amount for _, amount in lots)
        case PresentCode():
            return CODE_SHOWN, "", 0
        case BindCard():
            return CARD_LINKED, "", 0
        case SettlePayout():
            return PAYOUT_PAID, "", 0  # the units left the wallet when the refund was due
        case ReturnPayout():
            return PAYOUT_RETURNED, "", 0
    return OTHER, "", 0


def _state(store: Store, city: str, key: str) -> bytes | None:
    return store.state_value(city, key)


def _purchase(store: Store, city: str, ident: str) -> Purchase | None:
    raw = _state(store, city, f"u:{ident}")
    return msgspec.json.decode(raw, type=Purchase) if raw is not None else None


def _details(store: Store, city: str, command: Command, result: Result) -> tuple[str, int, int]:
    """(program, discount, won owed back) a sale, batch or expiry line needs from the
    state: the purchase record (`u:`), the batch (`b:`), the payouts (`q:`)."""
    if isinstance(command, BatchCredit):
        raw = _state(store, city, f"b:{command.batch}")
        return (msgspec.json.decode(raw, type=Batch).program if raw else ""), 0, 0
    if isinstance(command, Expire):
        owed = [a for lot, a in result.lots or [] if _state(store, city, f"q:{lot}.x")]
        return "", 0, sum(owed)
    ident = _sale_id(command)
    purchase = _purchase(store, city, ident) if ident and result.ok else None
    if purchase is None:
        return "", 0, 0
    lots = result.lots or []
    if isinstance(command, ConfirmPurchase):
        bonus = lots[1][1] if len(lots) > 1 else 0
        return purchase.program, bonus, (purchase.amount if not bonus and lots[0][1] == 0 else 0)
    if isinstance(command, CancelPurchase | RefundBalance):
        return purchase.program, 0, lots[0][1] if lots else 0
    return purchase.program, 0, 0


def _sale_id(command: Command) -> str:
    if isinstance(command, ConfirmPurchase | LapseOrder):
        return command.order
    if isinstance(command, CancelPurchase | RefundBalance):
        return command.purchase
    return ""


def line_of(
    store: Store, city: str, wallet: str, tx: TxRecord, times: dict[int, int] | None = None
) -> Line:
    _, command = decode_envelope(tx.envelope)
    result = tx.decoded_result()
    kind, party, signed = _kind(command, wallet, result)
    if isinstance(command, Capture) and result.ok:
        signed = _given_back(store, city, command)
    program, bonus, owed = _details(store, city, command, result)
    if kind == EXPIRED and owed:
        kind = EXPIRED_OWED  # purchased money past its validity: owed back in won
    at = _block_time(store, city, tx.height, {} if times is None else times)
    line = Line(tx.id, tx.seq, kind, party or program, abs(signed), signed, at, result.code)
    return msgspec.structs.replace(line, bonus=bonus, owed=owed)


def _given_back(store: Store, city: str, capture: Capture) -> int:
    """What a capture gave back to the wallet: the hold's amount less the capture's, while
    the hold's record stays in the state (0 once it retired: the line still says captured)."""
    raw = _state(store, city, f"h:{capture.hold}")
    if raw is None:
        return 0
    return msgspec.json.decode(raw, type=HoldRecord).amount - capture.amount


def lines(store: Store, city: str, wallet: str, txs: list[TxRecord]) -> list[Line]:
    """History rows, in the order given (newest first from the history index)."""
    times: dict[int, int] = {}
    return [line_of(store, city, wallet, tx, times) for tx in txs]


def drawn(store: Store, city: str, wallet: str, tx: TxRecord) -> list[Drawn]:
    """Which programs the money of a transaction was, by the lots its result names: a
    payment's record while the state keeps it (its draws name the program), else the
    lots as they are now in the wallets the command names (a gift's new lots are the
    receiver's); a lot spent to nothing since, after the record retired, is "" (unknown)."""
    result = tx.decoded_result()
    if not result.ok or not result.lots:
        return []
    _, command = decode_envelope(tx.envelope)
    by_lot: dict[str, str] = {}
    for account in {wallet, *_wallets_of(command)}:
        current = load_wallet(store, city, account)
        if current is not None:
            by_lot |= {lot.id: lot.program for lot in current.lots}
    raw = store.state_value(city, f"x:{tx.id}")
    if raw is not None:
        by_lot |= {d.lot: d.program for d in msgspec.json.decode(raw, type=Payment).draws}
    # A credit, a purchase or a cashback made its lots of one program, known without them.
    known = getattr(command, "program", "") or _details(store, city, command, result)[0]
    totals: dict[str, int] = {}
    for lot, amount in result.lots:
        program = by_lot.get(lot, known)
        totals[program] = totals.get(program, 0) + amount
    programs = load_programs(store, city, (p for p in totals if p))
    return [
        Drawn(program, program_name(programs.get(program), program), amount)
        for program, amount in sorted(totals.items())
    ]


def _wallets_of(command: Command) -> tuple[str, ...]:
    if isinstance(command, Transfer):
        return (command.wallet, command.to)
    if isinstance(
        command,
        Pay | Credit | Expire | BatchCredit | ConfirmPurchase | Cashback | Hold | ClaimCode,
    ):
        return (command.wallet,)
    if isinstance(command, Capture | Release):
        return (command.wallet,)
    return ()
