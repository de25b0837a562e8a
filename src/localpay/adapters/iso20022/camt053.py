"""A bank's camt.053.001.08 statement of the trust account, read into a Statement.

Read safely, validated against the official XSD, then held to what a won statement must
be: one statement per file, the account and every amount in KRW, every amount whole won
(KRW has no minor unit: "1200.00" is 1200, "1200.50" is refused), and its own arithmetic
true (opening + credits - debits = closing, over the booked entries). Only booked
entries (Sts BOOK) move money; pending (PDNG) and information-only (INFO) entries are
left out of both the entries and the sum. Each Entry keeps the line of its Ntry.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Final

from localpay.adapters.iso20022 import safe
from localpay.services.settlement.ports import CREDIT, DEBIT, Entry, Statement, XmlRefused

KIND: Final = "camt.053.001.08"
NS: Final = safe.ISO_NS + KIND
XSD: Final = KIND + ".xsd"
CURRENCY: Final = "KRW"
BOOKED: Final = "BOOK"
OPENING: Final = ("OPBD", "PRCD")  # opening booked; or previously closed booked
CLOSING: Final = "CLBD"


def _won(node: safe.Element) -> int:
    """An Amt element as whole won: KRW, and no fraction of a won."""
    currency = node.get("Ccy", "")
    if currency != CURRENCY:
        raise XmlRefused(
            f"원화(KRW)만 받습니다 (amount in {currency!r}, not KRW)", safe.line_of(node)
        )
    try:
        value = Decimal((node.text or "").strip())
    except InvalidOperation:
        raise XmlRefused(
            "금액을 읽을 수 없습니다 (unreadable amount)", safe.line_of(node)
        ) from None
    if value != value.to_integral_value():
        raise XmlRefused(
            f"원 단위 미만 금액 (a fraction of a won: {node.text})", safe.line_of(node)
        )
    return int(value)


def _signed(node: safe.Element) -> int:
    """A balance: its amount, negative when the indicator says DBIT (an overdraft)."""
    amount = _won(safe.find(node, "Amt", NS))
    return -amount if safe.text(node, "CdtDbtInd", NS) == DEBIT else amount


def _balances(stmt: safe.Element) -> dict[str, safe.Element]:
    found: dict[str, safe.Element] = {}
    for bal in safe.find_all(stmt, "Bal", NS):
        code = safe.text(bal, "Tp/CdOrPrtry/Cd", NS) or safe.text(bal, "Tp/CdOrPrtry/Prtry", NS)
        found.setdefault(code, bal)  # the first of a kind counts
    return found


def _balance(
    balances: dict[str, safe.Element], codes: tuple[str, ...], stmt: safe.Element
) -> safe.Element:
    for code in codes:
        if code in balances:
            return balances[code]
    raise XmlRefused(f"잔액 {'/'.join(codes)} 이 없습니다 (balance missing)", safe.line_of(stmt))


def _day(node: safe.Element, path: str) -> dt.date | None:
    """A DateAndDateTime2Choice at `path` (Dt or DtTm), or None when absent."""
    choice = safe.find(node, path, NS)
    if choice is None:
        return None
    value = safe.text(choice, "Dt", NS) or safe.text(choice, "DtTm", NS)
    return safe.date_of(value, choice)


def _account(stmt: safe.Element) -> str:
    acct = safe.find(stmt, "Acct", NS)
    currency = safe.text(acct, "Ccy", NS)
    if currency and currency != CURRENCY:
        raise XmlRefused(
            f"원화 계좌가 아닙니다 (account in {currency}, not KRW)", safe.line_of(acct)
        )
    return safe.text(acct, "Id/IBAN", NS) or safe.text(acct, "Id/Othr/Id", NS)


def _details(ntry: safe.Element) -> tuple[str, str, str]:
    """EndToEndId, return reason and remittance of the entry's one transaction.

    An entry booking several transactions at once (a batch) has no one EndToEndId: it
    is read with none, so reconciliation puts it in front of an operator."""
    found = safe.find_all(ntry, "NtryDtls/TxDtls", NS)
    if len(found) != 1:
        return "", "", f"일괄 {len(found)}건 (batch of {len(found)})" if found else ""
    tx = found[0]
    reason = safe.text(tx, "RtrInf/Rsn/Cd", NS) or safe.text(tx, "RtrInf/Rsn/Prtry", NS)
    words = " ".join((u.text or "").strip() for u in safe.find_all(tx, "RmtInf/Ustrd", NS))
    return safe.text(tx, "Refs/EndToEndId", NS), reason, words


def _entry(ntry: safe.Element) -> Entry | None:
    """A booked entry, or None for one that moves no money yet (PDNG, INFO)."""
    status = safe.text(ntry, "Sts/Cd", NS) or safe.text(ntry, "Sts/Prtry", NS)
    if status != BOOKED:
        return None
    amount = _won(safe.find(ntry, "Amt", NS))
    if amount <= 0:
        raise XmlRefused("금액이 0원인 거래 (an entry of 0 won)", safe.line_of(ntry))
    booked = _day(ntry, "BookgDt")
    if booked is None:
        raise XmlRefused("기장일이 없습니다 (booked entry without BookgDt)", safe.line_of(ntry))
    end_to_end, reason, words = _details(ntry)
    return Entry(
        amount=amount,
        direction=safe.text(ntry, "CdtDbtInd", NS),
        booked=booked,
        value=_day(ntry, "ValDt") or booked,
        end_to_end=end_to_end,
        bank_ref=safe.text(ntry, "AcctSvcrRef", NS)
        or safe.text(ntry, "NtryDtls/TxDtls/Refs/AcctSvcrRef", NS),
        reversal=safe.text(ntry, "RvslInd", NS) in ("true", "1"),
        return_reason=reason,
        info=safe.text(ntry, "AddtlNtryInf", NS) or words,
        line=safe.line_of(ntry),
    )


def _check_sum(stmt: safe.Element, opening: int, closing: int, entries: list[Entry]) -> None:
    moved = sum(e.amount if e.direction == CREDIT else -e.amount for e in entries)
    if opening + moved != closing:
        raise XmlRefused(
            f"잔액이 맞지 않습니다 (opening {opening} + entries {moved} != closing {closing})",
            safe.line_of(stmt),
        )


def _statement(root: safe.Element) -> safe.Element:
    found = safe.find_all(root, "BkToCstmrStmt/Stmt", NS)
    if len(found) != 1:
        raise XmlRefused(f"명세서는 파일당 하나 (expected 1 Stmt, got {len(found)})", 1)
    return found[0]


def read(data: bytes) -> Statement:
    """The statement's meaning, or XmlRefused naming the line of what is wrong."""
    root = safe.parse(data)
    safe.expect(root, KIND)
    safe.validate(root, XSD)
    stmt = _statement(root)
    account = _account(stmt)
    balances = _balances(stmt)
    opening = _signed(_balance(balances, OPENING, stmt))
    closing_node = _balance(balances, (CLOSING,), stmt)
    closing = _signed(closing_node)  # balances first: refusals come in file order
    entries = [e for e in map(_entry, safe.find_all(stmt, "Ntry", NS)) if e is not None]
    _check_sum(stmt, opening, closing, entries)
    created = safe.text(stmt, "CreDtTm", NS) or safe.text(root, "BkToCstmrStmt/GrpHdr/CreDtTm", NS)
    return Statement(
        msg_id=safe.text(root, "BkToCstmrStmt/GrpHdr/MsgId", NS),
        statement_id=safe.text(stmt, "Id", NS),
        account=account,
        currency=CURRENCY,
        created=safe.datetime_of(created, stmt),
        day=_period_day(stmt) or _day(closing_node, "Dt") or dt.date.min,
        opening=opening,
        closing=closing,
        entries=tuple(entries),
    )


def _period_day(stmt: safe.Element) -> dt.date | None:
    """The first day the statement covers (FrToDt), when it says."""
    period = safe.find(stmt, "FrToDt", NS)
    return None if period is None else safe.date_of(safe.text(period, "FrDtTm", NS), period)
