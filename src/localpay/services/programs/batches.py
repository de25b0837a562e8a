"""Disbursement batches: upload, the row report, submission for approval, execution.

1. `upload` streams a CSV (`citizen,amount,program,reference`), judges every line
   (services/programs/rows.py) against the ledger, earlier batches and the eligibility
   decisions, and keeps every line with its verdict. Nothing moves.
2. `submit` proposes one `approve_batch` (the Merkle root of the valid rows' leaves,
   ledger/batches.row_leaf) through the maker-checker service; a second official
   approves it there.
3. `run` pays each row of an approved batch with `batch_credit`, signed by the
   operator, in chunks; the cursor and counts move with each chunk in one transaction.
   A crash between a chunk's submission and its record re-submits the same command ids
   (derived per batch and row), so the ledger answers with the first receipts or
   `row_already_paid`: nobody is paid twice, and a re-run resumes where it stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

import nacl.signing

from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.domain.limits import BATCH_ROWS_MAX
from localpay.domain.policy import grant_period_key
from localpay.ledger.batches import row_leaf
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import sign_command
from localpay.ledger.tickets import Ticket
from localpay.services.cities.command_ids import derived_id
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.officials import current_operator
from localpay.services.identity.service import Principal
from localpay.services.programs import rows as judged
from localpay.services.programs.ports import (
    BatchRecord,
    Line,
    ProgramRepository,
    Proposer,
)
from localpay.services.programs.tree import MemoTree

#: Rows submitted to the sequencer at once (one store transaction records them).
CHUNK: Final = 1000
#: The most lines one file may have (the ledger's approve_batch bound).
MAX_LINES: Final = BATCH_ROWS_MAX
OPERATOR: Final = "operator"


class BatchError(Refused, ValueError):
    """The file or the request cannot be taken; nothing changed."""


class NotApproved(Conflict):
    """The batch is not (yet) approved on the ledger: nothing can be paid."""


@dataclass(frozen=True)
class Progress:
    batch: str
    status: str  # draft, empty, submitted, approved, done
    rows: int
    total: int
    paid: int
    refused: int
    to_go: int
    proposal: str


@dataclass(frozen=True)
class Report:
    batch: BatchRecord
    verdicts: dict[str, int]
    progress: Progress


def batch_id(city: str, principal: str, idempotency_key: str) -> str:
    return "b-" + derived_id(city, principal, "batch", idempotency_key)[:16]


def row_command_id(city: str, batch: str, row: int) -> str:
    return derived_id(city, OPERATOR, "batch_credit", f"{batch}:{row}")


class Batches:
    def __init__(
        self,
        repo: ProgramRepository,
        ledgers: Ledgers,
        proposer: Proposer,
        clock: Callable[[], int],
    ) -> None:
        self.repo = repo
        self.ledgers = ledgers
        self.proposer = proposer
        self.clock = clock
        self._running = threading.Lock()  # one runner per process at a time

    # -- 1. upload ------------------------------------------------------------------------

    def upload(
        self, principal: Principal, file_name: str, lines: Iterable[str], idempotency_key: str
    ) -> Report:
        """Judge every line and keep them (or, on a retry with the same key, the batch
        that key made)."""
        made = batch_id(principal.city, principal.id, idempotency_key)
        if (found := self.repo.batch(principal.city, made)) is not None:
            return self.report(principal.city, found.id)
        try:
            judged_lines, program = self._judge(principal.city, lines)
        except judged.HeaderError as exc:
            raise BatchError(str(exc)) from None
        valid = [x for x in judged_lines if x.row >= 0]
        root = ""
        if valid:
            root = MemoTree([self._leaf(made, program, x) for x in valid]).root.hex()
        record = BatchRecord(
            principal.city, made, program, principal.id, file_name[:120], len(judged_lines),
            len(valid), sum(x.amount for x in valid), root, "", 0, 0, 0, self.clock(),
        )  # fmt: skip
        self.repo.add_batch(record, judged_lines)
        return self.report(principal.city, made)

    def _judge(self, city: str, lines: Iterable[str]) -> tuple[list[Line], str]:
        out: list[Line] = []
        facts: judged.Facts | None = None
        valid = 0
        for number, fields in judged.records(lines):
            if number > MAX_LINES:
                raise BatchError(f"a batch has at most {MAX_LINES} lines")
            if facts is None:  # the batch's program: the first line's
                facts = self._facts(city, fields[2].strip() if len(fields) > 2 else "")
            line = judged.judge(number, fields, facts, valid)
            valid += line.row >= 0
            out.append(line)
        if facts is None:
            raise BatchError("the file has no lines after its header")
        return out, facts.program

    def _facts(self, city: str, program: str) -> judged.Facts:
        state = self.ledgers.sequencer(city).state
        found = state.programs.get(program)
        policy = found.versions[-1] if found is not None else None
        granted: dict[str, int] = {}
        if policy is not None and policy.grant is not None:
            period = grant_period_key(policy.grant.period, self.clock())
            for wallet_id, wallet in state.wallets.items():
                window = wallet.windows.get(f"grant:{program}")
                if window is not None and window.day == period:
                    granted[wallet_id] = window.day_spent
        return judged.Facts(
            program=program,
            policy=policy,
            budget=found.budget if found is not None else 0,
            wallets=frozenset(state.wallets),
            granted=granted,
            references=self.repo.references(city, program),
            decisions=self.repo.decisions(city, program),
        )

    @staticmethod
    def _leaf(batch: str, program: str, x: Line) -> bytes:
        return row_leaf(batch, program, x.row, x.wallet, x.amount, x.evidence)

    # -- reading ---------------------------------------------------------------------------

    def record(self, city: str, batch: str) -> BatchRecord:
        found = self.repo.batch(city, batch)
        if found is None:
            raise NotFound(f"city {city!r} has no batch {batch!r}")
        return found

    def report(self, city: str, batch: str) -> Report:
        record = self.record(city, batch)
        return Report(record, self.repo.verdicts(city, batch), self.progress(city, batch))

    def lines(
        self, city: str, batch: str, offset: int = 0, limit: int = 100, bad_only: bool = False
    ) -> list[Line]:
        self.record(city, batch)
        return self.repo.lines(city, batch, max(offset, 0), min(max(limit, 1), 1000), bad_only)

    def recent(self, city: str, limit: int = 50) -> list[BatchRecord]:
        return self.repo.batches(city, limit)

    def progress(self, city: str, batch: str) -> Progress:
        r = self.record(city, batch)
        on_chain = self.ledgers.sequencer(city).state.batches.get(batch)
        done = r.paid_rows + r.refused_rows
        if r.rows == 0:
            status = "empty"
        elif not r.proposal:
            status = "draft"
        elif on_chain is None:
            status = "submitted"
        else:
            status = "done" if r.next_row >= r.rows else "approved"
        return Progress(
            batch, status, r.rows, r.total, r.paid_rows, r.refused_rows, r.rows - done, r.proposal
        )

    # -- 2. submit -------------------------------------------------------------------------

    def submit(self, principal: Principal, batch: str) -> Progress:
        """Propose the batch's approval (the maker's signature on it); a retry finds the
        same proposal (its idempotency key is the batch id)."""
        r = self.record(principal.city, batch)
        if r.rows == 0:
            raise BatchError("the batch has no valid rows: there is nothing to approve")
        if r.maker != principal.id:
            raise BatchError("only the official who uploaded a batch submits it")
        params = {"batch": r.id, "program": r.program, "rows": r.rows, "total": r.total,
                  "root": r.root}  # fmt: skip
        proposal = self.proposer.propose(principal, "approve_batch", params, f"batch:{r.id}")
        if not r.proposal:
            self.repo.set_proposal(principal.city, batch, proposal.id)
        return self.progress(principal.city, batch)

    # -- 3. execution -----------------------------------------------------------------------

    def run(
        self, city: str, batch: str, stop: threading.Event | None = None, chunk: int = CHUNK
    ) -> Progress:
        """Pay every row not yet done, chunk by chunk, from the recorded cursor."""
        with self._running:
            return self._run(city, batch, stop or threading.Event(), max(chunk, 1))

    def _run(self, city: str, batch: str, stop: threading.Event, chunk: int) -> Progress:
        r = self.record(city, batch)
        if self.ledgers.sequencer(city).state.batches.get(batch) is None:
            raise NotApproved(f"batch {batch!r} is not approved on the ledger yet")
        if r.next_row >= r.rows:
            return self.progress(city, batch)
        rows = self.repo.rows(city, batch)
        tree = MemoTree([self._leaf(batch, r.program, x) for x in rows])
        if tree.root.hex() != r.root:
            raise Conflict(f"batch {batch!r}'s rows no longer give its approved root")
        _, operator = current_operator(self.ledgers, city)
        # Two chunks in flight: the next one is signed and queued while the sequencer
        # applies this one, and each is recorded, in order, once its receipts are in.
        start, waiting = r.next_row, None
        while start < r.rows and not stop.is_set():
            end = min(start + chunk, r.rows)
            envelopes = [self._credit(city, batch, x, tree, operator) for x in rows[start:end]]
            tickets = self.ledgers.submit_many(city, envelopes)
            if waiting is not None and not self._record(city, batch, rows, *waiting):
                return self.progress(city, batch)  # another runner moved the cursor on
            waiting, start = (start, end, tickets), end
        if waiting is not None:
            self._record(city, batch, rows, *waiting)
        return self.progress(city, batch)

    def _record(
        self,
        city: str,
        batch: str,
        rows: list[Line],
        start: int,
        end: int,
        tickets: list[Ticket[Receipt]],
    ) -> bool:
        receipts = [t.result(self.ledgers.answer_timeout_s) for t in tickets]
        refused = [
            (x.row, rc.code)
            for x, rc in zip(rows[start:end], receipts, strict=True)
            if not rc.ok and rc.code != Code.ROW_ALREADY_PAID.value
        ]
        paid = end - start - len(refused)
        return self.repo.record_progress(city, batch, (start, end), paid, len(refused), refused)

    def _credit(
        self, city: str, batch: str, x: Line, tree: MemoTree, key: nacl.signing.SigningKey
    ) -> bytes:
        command = c.BatchCredit(
            id=row_command_id(city, batch, x.row),
            city=city,
            batch=batch,
            row=x.row,
            wallet=x.wallet,
            amount=x.amount,
            evidence=x.evidence,
            proof=[h.hex() for h in tree.proof(x.row)],
        )
        return sign_command(command, [key])

    def resumable(self, city: str) -> list[str]:
        """Batches approved on the ledger and not fully done: what the job continues."""
        on_chain = self.ledgers.sequencer(city).state.batches
        return [
            r.id
            for r in self.repo.batches(city, 10_000)
            if r.proposal and r.id in on_chain and r.next_row < r.rows
        ]
