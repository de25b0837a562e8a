"""What settlement needs from outside, and the value types its files speak.

The types are the *meaning* of the ISO 20022 messages, not their XML: the adapter
(adapters/iso20022) writes a PayoutFile as pain.001.001.09 and reads pain.002.001.10 and
camt.053.001.08 into PaymentReport and Statement. Amounts are whole won (KRW has no minor
unit). A bank with its own firm-banking format implements `PayoutBank` with its own
writer and reader; the services never see a byte of XML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Protocol

from localpay.domain.errors import Refused, Unavailable

#: ISO 20022 identifiers are at most 35 characters (Max35Text).
ID_MAX: Final = 35


@dataclass(frozen=True)
class Party:
    """An account holder at a Korean bank: the name in Hangul as the bank has it, the
    bank by its 3-digit code (금융결제원 은행코드, written as ClrSysMmbId), the domestic
    account number, digits only (written as Othr/Id with scheme BBAN)."""

    name: str
    bank: str
    account: str


@dataclass(frozen=True)
class PayoutLine:
    """One credit transfer: `end_to_end` is the payout's id on the chain (EndToEndId)."""

    end_to_end: str
    amount: int
    creditor: Party
    remittance: str  # Ustrd: what the shop reads on its statement ("김포페이 정산 …")


@dataclass(frozen=True)
class PayoutFile:
    """A pain.001 file: one payment information block from the trust account."""

    msg_id: str
    created: dt.datetime  # aware, KST
    execution: dt.date  # the requested execution date: a business day
    debtor: Party  # the city's trust account
    lines: tuple[PayoutLine, ...]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True)
class LineStatus:
    """One payment's status in a pain.002: ACCP/ACSC/… or RJCT with an ISO reason code."""

    end_to_end: str
    status: str
    reason: str = ""  # e.g. AC04 (closed account), AC01, AM04, RC01
    reason_text: str = ""


@dataclass(frozen=True)
class PaymentReport:
    """A pain.002 customer payment status report on one of our files."""

    msg_id: str
    original_msg_id: str
    group_status: str  # ACCP, PART, RJCT, …; "" when the report gives per-line only
    group_reason: str
    lines: tuple[LineStatus, ...]


#: Entry directions (CdtDbtInd).
CREDIT: Final = "CRDT"
DEBIT: Final = "DBIT"


@dataclass(frozen=True)
class Entry:
    """One booked statement entry (Ntry with its one TxDtls)."""

    amount: int  # whole won, > 0
    direction: str  # CRDT (won in) or DBIT (won out)
    booked: dt.date
    value: dt.date
    end_to_end: str  # Refs/EndToEndId; "" or NOTPROVIDED when the bank has none
    bank_ref: str  # AcctSvcrRef: the bank's own unique id of the entry
    reversal: bool = False  # RvslInd: a return of an earlier entry
    return_reason: str = ""  # RtrInf/Rsn/Cd (pacs.004 returns shown on the statement)
    info: str = ""  # AddtlNtryInf / Ustrd, for the operator
    line: int = 0  # the line of the Ntry in the file, for the exceptions queue


@dataclass(frozen=True)
class Statement:
    """A camt.053 statement of the trust account for one business day."""

    msg_id: str
    statement_id: str  # Stmt/Id: the bank's id, unique per statement
    account: str  # the trust account's number as the statement names it
    currency: str
    created: dt.datetime
    day: dt.date  # the booking day the statement covers (FrToDt or the balances' date)
    opening: int  # OPBD, signed won
    closing: int  # CLBD, signed won
    entries: tuple[Entry, ...] = field(default=())


class XmlRefused(Refused):
    """An incoming file that is not a valid, safe message: names the line and the reason."""

    code = "xml_refused"

    def __init__(self, reason: str, line: int = 0) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


class FileInvalid(Refused):
    """A file we built failed the official XSD: it must never leave (a bug of ours)."""

    code = "payout_file_invalid"


class BankDown(Unavailable):
    """The bank did not take the file or answer; nothing is lost, the same file goes again."""


@dataclass(frozen=True)
class Sent:
    """What the bank said on receiving a payout file (its immediate acknowledgement)."""

    accepted: bool
    detail: str = ""


class PayoutBank(Protocol):
    """The trust account's bank, for money out and the statements of what happened.

    `write` renders a file in the bank's format and checks it (pain.001.001.09 against
    the official XSD here; raises FileInvalid, and then the file never leaves); `send`
    hands the bytes over (the same msg_id twice must not pay twice: banks refuse a
    duplicate MsgId, and a retry after a lost answer is that same file); `collect` takes
    the messages the bank released since the last call, read into their meaning, oldest
    first; `read_statement` reads a statement an operator uploads (XmlRefused names the
    line). A bank with its own firm-banking format is one more implementation."""

    name: str
    file_suffix: str  # ".xml"
    media_type: str  # "application/xml"

    def write(self, file: PayoutFile) -> bytes: ...

    def send(self, msg_id: str, data: bytes) -> Sent: ...

    def collect(self) -> list[PaymentReport | Statement]: ...

    def read_statement(self, data: bytes) -> Statement: ...
