"""Settlement reports read from the chain: a merchant's statement and the city's month.

Both are pure folds over stored transactions (command + recorded result) plus a few
state rows (the payouts' `q:<id>` records: status, return reason, bank reference), so
the same chain always gives the same report, to the won. Days and months are Korean
(KST): a transaction belongs to the day of its block, and the block heights where days
begin are found by binary search over block times (they never go back), so a period
costs a few header reads, not a read of every block.

- The merchant's statement comes from the merchant's history index (services/history):
  payments (pay, claim_code, captured holds), refunds and card reversals, payouts out
  and returned, each day's closing balance. It folds the merchant's whole history from
  its first transaction (the balance is exact by construction, never a guess from the
  current state); STATEMENT_TXS_MAX bounds it.
- The city's month folds the chain from genesis to the month's end: which program each
  lot belongs to is only known from its making.

Written as CSV here (UTF-8 with a BOM, so Excel in Korea opens it in Hangul; a Korean
header row; whole won). The PDF is the ReportRenderer adapter's (adapters/documents).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import msgspec

from localpay.domain import commands as c
from localpay.domain.calendar import KST
from localpay.domain.commands import DecodeError, decode_envelope
from localpay.domain.errors import Refused, Unavailable
from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.state import PAYOUT_PAID, PAYOUT_PENDING, Payment, Payout, Wallet
from localpay.services.history.ports import HistoryIndex
from localpay.services.settlement.ports import ReserveProof

#: A merchant's transactions folded for one statement at most (a shop's decade).
STATEMENT_TXS_MAX: Final = 1_000_000
#: Rows read from the history index per query.
PAGE: Final = 1_000
#: The longest period one statement covers (a year and a day).
PERIOD_DAYS_MAX: Final = 366
#: The program of a lot the report could not trace (a long-retired gift's).
UNKNOWN_PROGRAM: Final = "?"
#: Kinds of the two reports (ReportRenderer.pdf's `kind`).
MERCHANT: Final = "merchant_statement"
CITY: Final = "city_monthly"

#: A payout's status in the words a shop reads.
STATUS_KO: Final = {"pending": "대기", "paid": "지급 완료", "returned": "반환"}


class BadPeriod(Refused):
    """A month or day range that is not one: says what a good one looks like."""

    code = "bad_period"


class StatementTooLong(Unavailable):
    """The merchant's history is longer than one statement folds (STATEMENT_TXS_MAX)."""

    code = "statement_too_long"


# -- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Korean calendar days `first` to `last`, both included."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise BadPeriod(f"the period ends ({self.last}) before it begins ({self.first})")
        if (self.last - self.first).days >= PERIOD_DAYS_MAX:
            raise BadPeriod(f"a statement covers at most {PERIOD_DAYS_MAX} days")

    def days(self) -> list[dt.date]:
        count = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=n) for n in range(count)]

    @property
    def label(self) -> str:
        if self.first.day == 1 and self.last == _month_last(self.first):
            return f"{self.first.year}-{self.first.month:02d}"
        return f"{self.first.isoformat()}~{self.last.isoformat()}"


def _month_last(day: dt.date) -> dt.date:
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def month(year: int, month_no: int) -> Period:
    if not 1 <= month_no <= 12 or not 2000 <= year <= 9999:
        raise BadPeriod(f"no such month: {year}-{month_no:02d} (write YYYY-MM, like 2026-12)")
    first = dt.date(year, month_no, 1)
    return Period(first, _month_last(first))


def parse_month(text: str) -> Period:
    """'2026-12' -> that month."""
    year, sep, month_no = text.strip().partition("-")
    if not sep or not year.isdigit() or not month_no.isdigit() or len(year) != 4:
        raise BadPeriod(f"a month is written YYYY-MM, like 2026-12 (not {text!r})")
    return month(int(year), int(month_no))


def day_start_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=KST).timestamp() * 1000)


class DayHeights:
    """The first block height of Korean days (head + 1 for days not begun), by binary
    search over block times, each header read once."""

    def __init__(self, store: Store, city: str) -> None:
        self.store, self.city = store, city
        self._times: dict[int, int] = {}
        head = store.head(city)
        self.next_height = 0 if head is None else head.height + 1

    def _time(self, height: int) -> int:
        if height not in self._times:
            block = next(iter(self.store.blocks(self.city, height, height + 1)))
            self._times[height] = msgspec.json.decode(block.header_bytes, type=BlockHeader).time_ms
        return self._times[height]

    def first_at(self, at_ms: int) -> int:
        low, high = 0, self.next_height
        while low < high:
            middle = (low + high) // 2
            if self._time(middle) >= at_ms:
                high = middle
            else:
                low = middle + 1
        return low

    def starts(self, days: list[dt.date]) -> list[int]:
        """First heights of each day and of the day after the last."""
        bounds = [*days, days[-1] + dt.timedelta(days=1)]
        return [self.first_at(day_start_ms(d)) for d in bounds]


def _decoded(tx: TxRecord) -> tuple[c.Command, Result] | None:
    """An applied transaction's command and result; None for a rejected one."""
    result = tx.decoded_result()
    if not result.ok:
        return None
    try:
        _, command = decode_envelope(tx.envelope)
    except DecodeError:
        return None
    return command, result


def _payout_record(store: Store, city: str, ident: str) -> Payout | None:
    raw = store.state_value(city, f"q:{ident}")
    return msgspec.json.decode(raw, type=Payout) if raw is not None else None


# -- the merchant's statement ----------------------------------------------------------------


@dataclass(frozen=True)
class StatementDay:
    """One Korean day of a merchant: sales and refunds (counts and won), won sent to
    payout (and any returned by the bank), the balance at the day's end."""

    day: dt.date
    payments: int
    sales: int
    refunds: int
    refunded: int
    paid_out: int
    returned: int
    balance: int

    @property
    def net(self) -> int:
        return self.sales - self.refunded


@dataclass(frozen=True)
class PayoutItem:
    """A payout the merchant asked for (or the daily batch made) in the period."""

    id: str
    day: dt.date
    amount: int
    status: str  # pending, paid, returned (ledger.state PAYOUT_*)
    reason: str  # the bank's ISO reason code of a return (AC04, …)
    bank_ref: str

    @property
    def status_ko(self) -> str:
        words = STATUS_KO.get(self.status, self.status)
        return f"{words}({self.reason})" if self.reason else words


@dataclass(frozen=True)
class MerchantStatement:
    city: str
    merchant: str
    period: Period
    opening: int  # the balance before the period's first day
    closing: int  # at the end of its last day
    days: tuple[StatementDay, ...]  # days with any activity, oldest first
    payouts: tuple[PayoutItem, ...]  # oldest first

    @property
    def sales(self) -> int:
        return sum(d.sales for d in self.days)

    @property
    def refunded(self) -> int:
        return sum(d.refunded for d in self.days)

    @property
    def net(self) -> int:
        return self.sales - self.refunded

    @property
    def paid_out(self) -> int:
        return sum(d.paid_out for d in self.days)

    @property
    def returned(self) -> int:
        return sum(d.returned for d in self.days)


@dataclass
class _Tally:
    payments: int = 0
    sales: int = 0
    refunds: int = 0
    refunded: int = 0
    paid_out: int = 0
    returned: int = 0

    def delta(self) -> int:
        return self.sales - self.refunded - self.paid_out + self.returned


#: What one transaction did to a merchant: a kind of _Tally's and its won.
Effect = tuple[str, int]


def _merchant_txs(history: HistoryIndex, city: str, merchant: str) -> list[TxRecord]:
    """The merchant's whole history, oldest first."""
    found: list[TxRecord] = []
    before = None
    while True:
        rows = history.account_txs(city, merchant, before, PAGE)
        found += rows
        if len(found) > STATEMENT_TXS_MAX:
            raise StatementTooLong(f"merchant {merchant!r} has over {STATEMENT_TXS_MAX:,} txs")
        if len(rows) < PAGE:
            return found[::-1]
        before = rows[-1].seq


def _effect(
    command: c.Command,
    result: Result,
    merchant: str,
    captured: set[str],
    owed: Callable[[str], int],
) -> Effect | None:
    """The merchant-balance effect of an applied command naming `merchant`; `captured`
    (holds captured so far) tells a card's reversal from a release of an open hold."""
    match command:
        case c.Pay() | c.ClaimCode() if command.merchant == merchant:
            return "sales", command.amount
        case c.Hold(capture=True) if command.merchant == merchant:
            captured.add(command.id)
            return "sales", command.amount
        case c.Capture() if command.merchant == merchant:
            captured.add(command.hold)
            return "sales", command.amount
        case c.Refund() if command.merchant == merchant:
            return "refunded", command.amount
        case c.Release() if command.merchant == merchant and command.hold in captured:
            captured.discard(command.hold)
            return "refunded", sum(amount for _, amount in result.lots or ())
        case c.Payout() | c.Redeem() if command.merchant == merchant:
            return "paid_out", command.amount
        case c.ReturnPayout() if command.merchant == merchant:
            return "returned", owed(command.payout)
    return None


def merchant_statement(
    store: Store, history: HistoryIndex, city: str, merchant: str, period: Period
) -> MerchantStatement:
    """The merchant's statement of `period`, from its history on the chain."""
    days = period.days()
    starts = DayHeights(store, city).starts(days)

    def owed(ident: str) -> int:
        record = _payout_record(store, city, ident)
        return record.amount if record is not None else 0

    opening, captured = 0, set[str]()
    tallies = [_Tally() for _ in days]
    payouts: list[PayoutItem] = []
    for tx in _merchant_txs(history, city, merchant):
        if tx.height >= starts[-1]:
            break
        decoded = _decoded(tx)
        effect = _effect(*decoded, merchant, captured, owed) if decoded else None
        if effect is None or decoded is None:
            continue
        if tx.height < starts[0]:
            opening += _Tally(**{effect[0]: effect[1]}).delta()
            continue
        index = bisect.bisect_right(starts, tx.height) - 1
        _add(tallies[index], effect)
        if isinstance(decoded[0], c.Payout):
            payouts.append(_payout_item(store, city, decoded[0], days[index]))
    rows, balance = [], opening
    for day, tally in zip(days, tallies, strict=True):
        balance += tally.delta()
        if tally != _Tally():
            rows.append(StatementDay(day, balance=balance, **vars(tally)))
    return MerchantStatement(city, merchant, period, opening, balance, tuple(rows), tuple(payouts))


def _add(tally: _Tally, effect: Effect) -> None:
    kind, amount = effect
    setattr(tally, kind, getattr(tally, kind) + amount)
    if kind == "sales":
        tally.payments += 1
    elif kind == "refunded":
        tally.refunds += 1


def _payout_item(store: Store, city: str, command: c.Payout, day: dt.date) -> PayoutItem:
    record = _payout_record(store, city, command.id)
    status = record.status if record is not None else PAYOUT_PENDING
    reason = record.returned if record is not None and status != PAYOUT_PAID else ""
    bank_ref = record.bank_ref if record is not None else ""
    return PayoutItem(command.id, day, command.amount, status, reason, bank_ref)


# -- the city's month ------------------------------------------------------------------------


@dataclass
class ProgramMonth:
    """One program's month, whole won. `minted`: budget transfers from the city (mint);
    `sold`: citizens' purchases (won in; less cancellations); `discounts`: discounts and
    cashback paid from the budget (less those a cancellation gave back); `credited`:
    policy money (credit, batch rows); `redeemed`: payments to shops drawn from the
    program's money, less refunds and reversals; `expired`: expired money returned to
    the budget (a purchase's own money is owed back in won instead, not counted here)."""

    program: str
    minted: int = 0
    sold: int = 0
    discounts: int = 0
    credited: int = 0
    redeemed: int = 0
    expired: int = 0

    @property
    def issued(self) -> int:
        return self.minted + self.sold


@dataclass(frozen=True)
class CityMonth:
    city: str
    period: Period
    programs: tuple[ProgramMonth, ...]  # by program id
    payouts_settled: int  # count: burned on the bank's booking in the month
    settled: int  # their won
    payouts_returned: int
    returned: int
    supply: int  # units in existence at the month's end (minted - burned)
    in_transit: int  # of which pending payouts (won not yet left the trust account)
    reserve: ReserveProof | None

    @property
    def outstanding(self) -> int:
        return self.supply - self.in_transit

    @property
    def total(self) -> ProgramMonth:
        every = ProgramMonth("합계")
        for row in self.programs:
            for name in ("minted", "sold", "discounts", "credited", "redeemed", "expired"):
                setattr(every, name, getattr(every, name) + getattr(row, name))
        return every

    @property
    def reserve_ratio(self) -> float | None:
        return self.reserve.ratio if self.reserve is not None else None


@dataclass
class _Book:
    """What folding the chain must remember: each lot's program, orders and batches."""

    lots: dict[str, str] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)
    orders: dict[str, tuple[str, int]] = field(default_factory=dict)  # -> (program, bonus)
    captured: set[str] = field(default_factory=set)
    rows: dict[str, ProgramMonth] = field(default_factory=dict)
    supply: int = 0
    settled: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)

    def row(self, program: str) -> ProgramMonth:
        return self.rows.setdefault(program, ProgramMonth(program))

    def by_lots(self, lots: list[tuple[str, int]]) -> Iterator[tuple[ProgramMonth, int]]:
        for lot, amount in lots:
            yield self.row(self.lots.get(lot, UNKNOWN_PROGRAM)), amount


def _learn(
    book: _Book, command: c.Command, result: Result, state: Callable[[str], bytes | None]
) -> None:
    """Remember the programs of lots made, before and in the month alike."""
    match command:
        case c.DefineProgram():
            book.row(command.program)  # every program has its row, a quiet month's too
        case c.Credit() | c.Cashback():
            book.lots[command.id] = command.program
        case c.ApproveBatch():
            book.batches[command.batch] = command.program
        case c.BatchCredit():
            book.lots[command.id] = book.batches.get(command.batch, UNKNOWN_PROGRAM)
        case c.OrderPurchase():
            book.orders[command.id] = (command.program, 0)
        case c.ConfirmPurchase():
            program, _ = book.orders.get(command.order, (UNKNOWN_PROGRAM, 0))
            lots = result.lots or []
            book.lots.update({lot: program for lot, _ in lots})
            book.orders[command.order] = (program, sum(a for _, a in lots[1:]))
        case c.Transfer():
            # A gift's lot keeps the program of the money given, which the result does
            # not name: read from the receiving wallet (gone once spent: then unknown).
            new = [lot for lot, _ in result.lots or () if lot not in book.lots]
            raw = state(f"w:{command.to}") if new else None
            if raw is not None:
                held = {lot.id: lot.program for lot in msgspec.json.decode(raw, type=Wallet).lots}
                book.lots.update({lot: held[lot] for lot in new if lot in held})
        case c.Pay() | c.ClaimCode() | c.Capture() | c.Hold():
            paid = command.hold if isinstance(command, c.Capture) else command.id
            if any(lot not in book.lots for lot, _ in result.lots or ()):
                raw = state(f"x:{paid}")
                for draw in msgspec.json.decode(raw, type=Payment).draws if raw else ():
                    book.lots.setdefault(draw.lot, draw.program)


def _supply(book: _Book, command: c.Command, owed: Callable[[str], int]) -> None:
    """Units made and burned, to the month's end (ledger.state Totals)."""
    match command:
        case c.Mint() | c.ConfirmPurchase():
            book.supply += command.amount
        case c.Redeem():
            book.supply -= command.amount
        case c.SettlePayout():
            book.supply -= owed(command.payout)


def _count(book: _Book, command: c.Command, result: Result, owed: Callable[[str], int]) -> None:
    """Add one applied command of the month to its programs' rows."""
    lots = result.lots or []
    match command:
        case c.Mint():
            book.row(command.program).minted += command.amount
        case c.ConfirmPurchase() if lots and lots[0][1]:  # a late deposit owed back: no sale
            program, bonus = book.orders.get(command.order, (UNKNOWN_PROGRAM, 0))
            book.row(program).sold += command.amount
            book.row(program).discounts += bonus
        case c.CancelPurchase():
            program, bonus = book.orders.get(command.purchase, (UNKNOWN_PROGRAM, 0))
            book.row(program).sold -= sum(amount for _, amount in lots)
            book.row(program).discounts -= bonus
        case c.Cashback():
            book.row(command.program).discounts += sum(amount for _, amount in lots)
        case c.Credit():
            book.row(command.program).credited += command.amount
        case c.BatchCredit():
            book.row(book.batches.get(command.batch, UNKNOWN_PROGRAM)).credited += command.amount
        case c.Pay() | c.ClaimCode() | c.Capture() | c.Hold(capture=True):
            for row, amount in book.by_lots(lots):
                row.redeemed += amount
        case c.Refund():
            for row, amount in book.by_lots(lots):
                row.redeemed -= amount
        case c.Release() if command.hold in book.captured:  # a card's reversal
            for row, amount in book.by_lots(lots):
                row.redeemed -= amount
        case c.Expire():
            # A purchase's own money (its lot has the order's id) is owed back in won.
            returned = [(lot, amount) for lot, amount in lots if lot not in book.orders]
            for row, amount in book.by_lots(returned):
                row.expired += amount
        case c.SettlePayout():
            book.settled.append(owed(command.payout))
        case c.ReturnPayout():
            book.returned.append(owed(command.payout))


def _holds(book: _Book, command: c.Command) -> None:
    match command:
        case c.Hold(capture=True):
            book.captured.add(command.id)
        case c.Capture():
            book.captured.add(command.hold)
        case c.Release():
            book.captured.discard(command.hold)


def _in_transit(store: Store, city: str, end_ms: int) -> int:
    """Won of payouts made before `end_ms` and not yet paid or returned by then."""
    total = 0
    for key, raw in store.state(city):
        if not key.startswith("q:"):
            continue
        owed = msgspec.json.decode(raw, type=Payout)
        open_then = owed.status == PAYOUT_PENDING or owed.settled_ms >= end_ms
        if owed.at_ms < end_ms and open_then:
            total += owed.amount
    return total


def city_monthly(
    store: Store, city: str, year: int, month_no: int, reserve: ReserveProof | None = None
) -> CityMonth:
    """The city's report of one Korean month, folded from genesis to the month's end."""
    period = month(year, month_no)
    end_ms = day_start_ms(period.last + dt.timedelta(days=1))
    heights = DayHeights(store, city)
    first, end = heights.first_at(day_start_ms(period.first)), heights.first_at(end_ms)
    amounts: dict[str, int] = {}

    def owed(ident: str) -> int:
        if ident not in amounts:
            record = _payout_record(store, city, ident)
            amounts[ident] = record.amount if record is not None else 0
        return amounts[ident]

    book = _Book()
    for tx in store.txs(city):
        if tx.height >= end:
            break
        decoded = _decoded(tx)
        if decoded is None:
            continue
        command, result = decoded
        _learn(book, command, result, lambda key: store.state_value(city, key))
        _supply(book, command, owed)
        if tx.height >= first:
            _count(book, command, result, owed)
        _holds(book, command)
    programs = tuple(book.rows[p] for p in sorted(book.rows))
    return CityMonth(
        city, period, programs, len(book.settled), sum(book.settled), len(book.returned),
        sum(book.returned), book.supply, _in_transit(store, city, end_ms), reserve,
    )  # fmt: skip


# -- CSV -------------------------------------------------------------------------------------

MERCHANT_HEADER: Final = (
    "일자", "결제 건수", "매출", "환불 건수", "환불", "순매출", "정산 출금", "반환 입금", "잔액",
)  # fmt: skip
PAYOUT_HEADER: Final = ("정산 번호", "신청일", "금액", "상태", "은행 거래번호")
CITY_HEADER: Final = (
    "프로그램", "예산 입금", "판매", "할인·캐시백 지급", "정책 지원금", "가맹점 결제", "소멸 반환",
)  # fmt: skip


def _csv(rows: list[tuple[object, ...]]) -> bytes:
    # The BOM makes Excel read UTF-8 (it guesses CP949 otherwise, and Hangul breaks).
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8-sig")


def merchant_csv(statement: MerchantStatement) -> bytes:
    """The statement as CSV: the days (with opening and total rows), then its payouts."""
    s = statement
    rows: list[tuple[object, ...]] = [MERCHANT_HEADER]
    rows.append(("이월 잔액", "", "", "", "", "", "", "", s.opening))
    for d in s.days:
        rows.append(
            (d.day.isoformat(), d.payments, d.sales, d.refunds, d.refunded, d.net, d.paid_out,
             d.returned, d.balance)
        )  # fmt: skip
    payments, refunds = sum(d.payments for d in s.days), sum(d.refunds for d in s.days)
    rows.append(
        ("합계", payments, s.sales, refunds, s.refunded, s.net, s.paid_out, s.returned, s.closing)
    )
    rows += [(), PAYOUT_HEADER]
    rows += [(p.id, p.day.isoformat(), p.amount, p.status_ko, p.bank_ref) for p in s.payouts]
    return _csv(rows)


def city_csv(report: CityMonth) -> bytes:
    """The city's month as CSV: a row per program and their total, then the month's end."""
    rows: list[tuple[object, ...]] = [CITY_HEADER]
    for p in (*report.programs, report.total):
        rows.append((p.program, p.minted, p.sold, p.discounts, p.credited, p.redeemed, p.expired))
    ratio = report.reserve_ratio
    rows += [
        (),
        ("항목", "값"),
        ("정산 지급 완료 건수", report.payouts_settled),
        ("정산 지급 완료 금액", report.settled),
        ("정산 반환 건수", report.payouts_returned),
        ("정산 반환 금액", report.returned),
        ("월말 발행 잔액", report.supply),
        ("월말 정산 대기", report.in_transit),
        ("월말 유통 잔액", report.outstanding),
        ("준비금 비율", f"{ratio:.4f}" if ratio is not None else ""),
    ]
    return _csv(rows)


def reserve_at(proofs: list[ReserveProof], period: Period) -> ReserveProof | None:
    """The last proof of reserves made within the period (or before it): the month's end
    as the report can show it. `proofs` newest first, as the repository lists them."""
    end_ms = day_start_ms(period.last + dt.timedelta(days=1))
    return next((p for p in proofs if p.at_ms < end_ms), None)
