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

    def closures(self, days: frozenset[dt.date]) -> None:
        """Tell the bank the city's own closures, where it keeps a holiday list (a bank
        that does not is told nothing: our execution dates already skip them)."""
        ...


# -- what settlement keeps off the chain ------------------------------------------------------

#: A batch's life: built (its file written and checked, not yet taken by the bank),
#: sent (the bank took it), refused (the bank refused the whole file: its lines returned).
BUILT: Final = "built"
SENT: Final = "sent"
REFUSED: Final = "refused"
#: A line's life beyond its batch: sent, paid (booked on a statement), returned.
LINE_SENT: Final = "sent"
LINE_PAID: Final = "paid"
LINE_RETURNED: Final = "returned"


@dataclass(frozen=True)
class BatchLine:
    payout: str  # the payout's id on the chain = EndToEndId
    owner: str  # merchant or wallet id
    owner_kind: str  # "merchant" or "wallet"
    amount: int
    status: str = LINE_SENT
    reason: str = ""  # a return's ISO reason code
    bank_ref: str = ""  # the statement entry that paid it


@dataclass(frozen=True)
class PayoutBatch:
    """One payout file: instant (one line, sent at once) or the daily batch."""

    city: str
    id: str  # = the file's MsgId
    kind: str  # "instant" or "daily"
    execution: dt.date
    created_ms: int
    status: str
    total: int
    lines: tuple[BatchLine, ...]
    detail: str = ""  # the bank's words on sending


@dataclass(frozen=True)
class StoredAccount:
    """A payout account kept off the chain: sealed at rest; `digest` is on the chain."""

    city: str
    owner: str
    party: Party
    digest: str
    at_ms: int


@dataclass(frozen=True)
class StatementRecord:
    """An imported statement and what its reconciliation found."""

    city: str
    statement_id: str
    day: dt.date
    opening: int
    closing: int
    entries: int
    matched: int
    exceptions: int
    imported_ms: int


#: An exception's life: open (an operator must look), resolved (with a note).
OPEN: Final = "open"
RESOLVED: Final = "resolved"


@dataclass(frozen=True)
class ReconException:
    """A statement entry that did not match the ledger exactly, or a broken balance."""

    city: str
    id: int
    statement_id: str
    bank_ref: str
    end_to_end: str
    direction: str
    amount: int
    reason: str  # a code: unknown_entry, amount_mismatch, opening_mismatch, …
    detail: str  # plain words for the operator
    line: int
    status: str = OPEN
    note: str = ""
    at_ms: int = 0


@dataclass(frozen=True)
class ReserveProof:
    """Backing at one checkpoint (log size): units on the chain against won in trust.

    `trust` is the last reconciled statement's closing balance; `unbooked` the won the
    chain counts that no statement has shown yet (deposits and budget transfers minted
    since, on the bank's notice). Backed when trust + unbooked >= supply; `shortfall`
    is what is missing (0 when backed)."""

    city: str
    size: int  # the checkpoint's log size
    root: str  # its root hash (hex)
    at_ms: int
    supply: int  # units in existence = outstanding + in transit
    in_transit: int  # pending payouts: units whose won have not left yet
    trust: int
    statement_day: dt.date | None
    unbooked: int
    shortfall: int

    @property
    def outstanding(self) -> int:
        return self.supply - self.in_transit

    @property
    def ratio(self) -> float:
        """Won per unit (1.0 fully backed); 1.0 for a city with no units yet."""
        return (self.trust + self.unbooked) / self.supply if self.supply else 1.0


class SettlementRepository(Protocol):
    """Batches, accounts, statements, exceptions and reserve proofs of every city."""

    def put_account(self, account: StoredAccount) -> None:
        """Record (or replace) the owner's payout account."""
        ...

    def account(self, city: str, owner: str) -> StoredAccount | None: ...

    def add_batch(self, batch: PayoutBatch, data: bytes) -> PayoutBatch:
        """Record a built batch and its file; if its id is recorded already, that one."""
        ...

    def batch(self, city: str, ident: str) -> PayoutBatch | None: ...

    def batch_file(self, city: str, ident: str) -> bytes | None: ...

    def batches(self, city: str, limit: int = 50) -> list[PayoutBatch]:
        """Newest first."""
        ...

    def batches_of(self, city: str, owner: str, limit: int = 50) -> list[PayoutBatch]:
        """Newest first, the batches with a line of `owner`."""
        ...

    def set_batch_status(self, city: str, ident: str, status: str, detail: str) -> None: ...

    def set_line(self, city: str, payout: str, status: str, reason: str, bank_ref: str) -> None:
        """The newest line of `payout` (a citizen's payout may be sent again after a return)."""
        ...

    def batched(self, city: str) -> set[str]:
        """Payout ids on a line that is sent or paid (so never put in a second file)."""
        ...

    def add_statement(self, record: StatementRecord) -> bool:
        """Record an imported statement; False if its id was imported already."""
        ...

    def statements(self, city: str, limit: int = 50) -> list[StatementRecord]:
        """Newest (by day, then import) first."""
        ...

    def add_closure(self, city: str, day: dt.date, reason: str) -> bool:
        """A day the city's bank does not settle; False if it is one already."""
        ...

    def remove_closure(self, city: str, day: dt.date) -> bool: ...

    def closures(self, city: str) -> dict[dt.date, str]:
        """The city's own closures (day -> reason), oldest first."""
        ...

    def add_matched(self, city: str, refs: list[str]) -> None:
        """References (EndToEndIds of credits) a statement has shown."""
        ...

    def matched(self, city: str) -> set[str]: ...

    def add_exception(self, item: ReconException) -> None: ...

    def exceptions(
        self, city: str, status: str | None = OPEN, limit: int = 100
    ) -> list[ReconException]: ...

    def resolve_exception(self, city: str, ident: int, note: str) -> bool:
        """Mark resolved with the operator's note; False if unknown or resolved already."""
        ...

    def add_proof(self, proof: ReserveProof) -> None:
        """Record a proof (one per city and size; a repeat is ignored)."""
        ...

    def proofs(self, city: str, limit: int = 100) -> list[ReserveProof]:
        """Newest first."""
        ...


class ReportRenderer(Protocol):
    """Lays a settlement report out as a printable PDF (Korean, A4). `kind` names the
    report ("merchant_statement", "city_monthly": services/settlement/reports.py) and
    `data` is that report's value; raises Unavailable when no PDF can be made here."""

    def pdf(self, kind: str, data: object) -> bytes: ...
