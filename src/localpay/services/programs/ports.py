"""What the programs service keeps off the chain, and how it asks for approval."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any, Protocol

from localpay.services.identity.service import Principal


@dataclass(frozen=True)
class Decision:
    """An eligibility decision: all that remains of the city's data once it is made."""

    wallet: str
    eligible: bool
    reasons: tuple[str, ...]
    evidence: str  # salted SHA-256 of the evidence (64 hex), as the chain gets it
    salt: str  # 32 hex, kept off the chain so an auditor given the evidence can check
    decided_on: str  # ISO date


@dataclass(frozen=True)
class BatchRecord:
    city: str
    id: str
    program: str
    maker: str
    file_name: str
    lines: int  # lines of the file (without the header)
    rows: int  # valid rows: the batch
    total: int
    root: str  # RFC 9162 root of the rows' leaves (hex), "" when nothing is valid
    proposal: str  # the approve_batch proposal, "" until submitted
    next_row: int  # rows before it are done (paid or refused by the ledger)
    paid_rows: int
    refused_rows: int
    created_ms: int


@dataclass(frozen=True)
class Line:
    """One line of an uploaded file and its verdict; `row` is -1 unless valid."""

    line: int
    row: int
    wallet: str
    amount: int
    program: str
    reference: str
    evidence: str
    verdict: str
    outcome: str = ""  # the ledger's code once the row was submitted


Row = tuple[Any, ...]


class ProgramTables(Protocol):
    """The store's tables (adapters/sql/programs.py), in plain rows: column order as in
    migration 0012 (a batch's head, a line from `line` on, a decision from `wallet` on)."""

    def put_evidence(
        self, city: str, program: str, sealed: list[tuple[str, bytes]], now_ms: int
    ) -> None: ...

    def pending_evidence(self, city: str, program: str) -> list[tuple[str, bytes]]: ...

    def record_decisions(
        self, city: str, program: str, decisions: list[Row], now_ms: int
    ) -> None: ...

    def decisions(self, city: str, program: str) -> list[Row]: ...

    def add_batch(self, head: Row, lines: list[Row]) -> bool: ...

    def batch(self, city: str, batch: str) -> Row | None: ...

    def batches(self, city: str, limit: int) -> list[Row]: ...

    def lines(
        self, city: str, batch: str, offset: int, limit: int, bad_only: bool
    ) -> list[Row]: ...

    def verdicts(self, city: str, batch: str) -> dict[str, int]: ...

    def rows(self, city: str, batch: str) -> list[Row]: ...

    def references(self, city: str, program: str) -> set[tuple[str, str]]: ...

    def set_proposal(self, city: str, batch: str, proposal: str) -> None: ...

    def record_progress(
        self,
        city: str,
        batch: str,
        span: tuple[int, int],
        paid: int,
        refused: int,
        outcomes: list[tuple[int, str]],
    ) -> bool: ...


def _record(row: Row) -> BatchRecord:
    return BatchRecord(*row)


def _line(row: Row) -> Line:
    return Line(*row)


class ProgramRepository:
    """The tables in the service's own types."""

    def __init__(self, tables: ProgramTables) -> None:
        self.tables = tables

    def put_evidence(
        self, city: str, program: str, sealed: list[tuple[str, bytes]], now_ms: int
    ) -> None:
        self.tables.put_evidence(city, program, sealed, now_ms)

    def pending_evidence(self, city: str, program: str) -> list[tuple[str, bytes]]:
        return self.tables.pending_evidence(city, program)

    def record_decisions(
        self, city: str, program: str, decisions: list[Decision], now_ms: int
    ) -> None:
        """Store the decisions and delete their evidence, in one transaction."""
        rows = [
            (d.wallet, d.eligible, ",".join(d.reasons), d.evidence, d.salt, d.decided_on)
            for d in decisions
        ]
        self.tables.record_decisions(city, program, rows, now_ms)

    def decisions(self, city: str, program: str) -> dict[str, Decision]:
        found = {}
        for wallet, eligible, reasons, evidence, salt, on in self.tables.decisions(city, program):
            labels = tuple(r for r in str(reasons).split(",") if r)
            found[str(wallet)] = Decision(
                str(wallet), bool(eligible), labels, str(evidence), str(salt), str(on)
            )
        return found

    def add_batch(self, record: BatchRecord, lines: list[Line]) -> bool:
        """False (and nothing written) if the batch id exists."""
        lines_rows = [
            (
                x.line,
                x.row,
                x.wallet,
                x.amount,
                x.program,
                x.reference,
                x.evidence,
                x.verdict,
                x.outcome,
            )
            for x in lines
        ]  # not dataclasses.astuple: it deep-copies every field (10 s for 100,000 lines)
        return self.tables.add_batch(astuple(record), lines_rows)

    def batch(self, city: str, batch: str) -> BatchRecord | None:
        row = self.tables.batch(city, batch)
        return _record(row) if row is not None else None

    def batches(self, city: str, limit: int) -> list[BatchRecord]:
        return [_record(r) for r in self.tables.batches(city, limit)]

    def lines(self, city: str, batch: str, offset: int, limit: int, bad_only: bool) -> list[Line]:
        return [_line(r) for r in self.tables.lines(city, batch, offset, limit, bad_only)]

    def verdicts(self, city: str, batch: str) -> dict[str, int]:
        return self.tables.verdicts(city, batch)

    def rows(self, city: str, batch: str) -> list[Line]:
        """The valid rows in row order."""
        return [_line(r) for r in self.tables.rows(city, batch)]

    def references(self, city: str, program: str) -> set[tuple[str, str]]:
        """(wallet, reference) of every valid row of the program's batches."""
        return self.tables.references(city, program)

    def set_proposal(self, city: str, batch: str, proposal: str) -> None:
        self.tables.set_proposal(city, batch, proposal)

    def record_progress(
        self,
        city: str,
        batch: str,
        span: tuple[int, int],
        paid: int,
        refused: int,
        outcomes: list[tuple[int, str]],
    ) -> bool:
        """Move the cursor from span[0] to span[1], count the chunk's rows paid and
        refused and note the refused rows' codes (row, code), at once; False (nothing
        counted) if the cursor was not at span[0]."""
        return self.tables.record_progress(city, batch, span, paid, refused, outcomes)


class Proposed(Protocol):
    @property
    def id(self) -> str: ...


class Proposer(Protocol):
    """The maker-checker service (services/approvals), injected: a sibling package."""

    def propose(
        self, principal: Principal, kind: str, params: dict[str, Any], idempotency_key: str
    ) -> Proposed: ...


class Sealer(Protocol):
    """The master key as the service uses it (adapters/secrets.Sealer): the key itself
    never reaches the service."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...
