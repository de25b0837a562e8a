"""The programs service's tables (services/programs/ports.py): sealed evidence until
the decision, decisions, batches and their lines. One query text for both dialects;
big files go in as multi-row inserts, in one transaction."""

from __future__ import annotations

from typing import Any, Final

from localpay.adapters.sql.runner import Row, SqlRunner, Statement
from localpay.services.programs.ports import BatchRecord, Decision, Line

#: Lines per INSERT statement: 11 parameters each, well under SQLite's 32,766.
_CHUNK: Final = 500

_PUT_EVIDENCE: Final = (
    "INSERT INTO eligibility_evidence (city, program, wallet, sealed, loaded_ms)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (city, program, wallet) DO UPDATE"
    " SET sealed = excluded.sealed, loaded_ms = excluded.loaded_ms"
)
_PENDING: Final = (
    "SELECT wallet, sealed FROM eligibility_evidence WHERE city = ? AND program = ? ORDER BY wallet"
)
_DECIDE: Final = (
    "INSERT INTO eligibility_decisions (city, program, wallet, eligible, reasons, evidence,"
    " salt, decided_on, decided_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (city, program, wallet) DO UPDATE SET eligible = excluded.eligible,"
    " reasons = excluded.reasons, evidence = excluded.evidence, salt = excluded.salt,"
    " decided_on = excluded.decided_on, decided_ms = excluded.decided_ms"
)
_FORGET: Final = "DELETE FROM eligibility_evidence WHERE city = ? AND program = ? AND wallet = ?"
_DECISIONS: Final = (
    "SELECT wallet, eligible, reasons, evidence, salt, decided_on FROM eligibility_decisions"
    " WHERE city = ? AND program = ?"
)
_BATCH_COLUMNS: Final = (
    "city, id, program, maker, file_name, lines, row_count, total, root, proposal, next_row,"
    " paid_rows, refused_rows, created_ms"
)
_LINE_COLUMNS: Final = (
    "line, row_no, wallet, amount, program, reference, evidence, verdict, outcome"
)


def _batch(row: Row) -> BatchRecord:
    city, id_, program, maker, name, lines, rows, total, root, proposal, *counts = row
    nxt, paid, refused, created = (int(v) for v in counts)
    return BatchRecord(
        str(city), str(id_), str(program), str(maker), str(name), int(lines), int(rows),
        int(total), str(root), str(proposal), nxt, paid, refused, created,
    )  # fmt: skip


def _line(row: Row) -> Line:
    line, row_no, wallet, amount, program, reference, evidence, verdict, outcome = row
    return Line(
        int(line), int(row_no), str(wallet), int(amount), str(program), str(reference),
        str(evidence), str(verdict), str(outcome),
    )  # fmt: skip


class SqlProgramRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    # -- eligibility ---------------------------------------------------------------------

    def put_evidence(
        self, city: str, program: str, sealed: list[tuple[str, bytes]], now_ms: int
    ) -> None:
        if sealed:
            self.store.sql_batch(
                [(_PUT_EVIDENCE, (city, program, w, blob, now_ms)) for w, blob in sealed]
            )

    def pending_evidence(self, city: str, program: str) -> list[tuple[str, bytes]]:
        return [(str(w), bytes(b)) for w, b in self.store.sql(_PENDING, (city, program))]

    def record_decisions(
        self, city: str, program: str, decisions: list[Decision], now_ms: int
    ) -> None:
        statements: list[Statement] = []
        for d in decisions:
            reasons = ",".join(d.reasons)
            values = (city, program, d.wallet, int(d.eligible), reasons, d.evidence, d.salt)
            statements.append((_DECIDE, (*values, d.decided_on, now_ms)))
            statements.append((_FORGET, (city, program, d.wallet)))
        if statements:
            self.store.sql_batch(statements)

    def decisions(self, city: str, program: str) -> dict[str, Decision]:
        found = {}
        for wallet, eligible, reasons, evidence, salt, on in self.store.sql(
            _DECISIONS, (city, program)
        ):
            labels = tuple(r for r in str(reasons).split(",") if r)
            found[str(wallet)] = Decision(
                str(wallet), bool(eligible), labels, str(evidence), str(salt), str(on)
            )
        return found

    # -- batches ---------------------------------------------------------------------------

    def add_batch(self, record: BatchRecord, lines: list[Line]) -> bool:
        if self.batch(record.city, record.id) is not None:
            return False
        r = record
        head = (
            r.city, r.id, r.program, r.maker, r.file_name, r.lines, r.rows, r.total, r.root,
            r.proposal, r.next_row, r.paid_rows, r.refused_rows, r.created_ms,
        )  # fmt: skip
        marks = ", ".join("?" * len(head))
        statements: list[Statement] = [
            (f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({marks})", head)
        ]
        for start in range(0, len(lines), _CHUNK):
            chunk = lines[start : start + _CHUNK]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            params: list[Any] = []
            for x in chunk:
                params += [r.city, r.id, x.line, x.row, x.wallet, x.amount, x.program]
                params += [x.reference, x.evidence, x.verdict, x.outcome]
            query = f"INSERT INTO batch_lines (city, batch, {_LINE_COLUMNS}) VALUES {values}"
            statements.append((query, tuple(params)))
        self.store.sql_batch(statements)
        return True

    def batch(self, city: str, batch: str) -> BatchRecord | None:
        rows = self.store.sql(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE city = ? AND id = ?", (city, batch)
        )
        return _batch(rows[0]) if rows else None

    def batches(self, city: str, limit: int) -> list[BatchRecord]:
        query = (
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE city = ?"
            " ORDER BY created_ms DESC, id LIMIT ?"
        )
        return [_batch(r) for r in self.store.sql(query, (city, limit))]

    def lines(self, city: str, batch: str, offset: int, limit: int, bad_only: bool) -> list[Line]:
        bad = " AND verdict <> 'ok'" if bad_only else ""
        query = (
            f"SELECT {_LINE_COLUMNS} FROM batch_lines WHERE city = ? AND batch = ?{bad}"
            " ORDER BY line LIMIT ? OFFSET ?"
        )
        return [_line(r) for r in self.store.sql(query, (city, batch, limit, offset))]

    def verdicts(self, city: str, batch: str) -> dict[str, int]:
        query = (
            "SELECT verdict, COUNT(*) FROM batch_lines WHERE city = ? AND batch = ?"
            " GROUP BY verdict"
        )
        return {str(v): int(n) for v, n in self.store.sql(query, (city, batch))}

    def rows(self, city: str, batch: str) -> list[Line]:
        query = (
            f"SELECT {_LINE_COLUMNS} FROM batch_lines WHERE city = ? AND batch = ?"
            " AND row_no >= 0 ORDER BY row_no"
        )
        return [_line(r) for r in self.store.sql(query, (city, batch))]

    def references(self, city: str, program: str) -> set[tuple[str, str]]:
        query = (
            "SELECT wallet, reference FROM batch_lines WHERE city = ? AND program = ?"
            " AND row_no >= 0"
        )
        return {(str(w), str(r)) for w, r in self.store.sql(query, (city, program))}

    def set_proposal(self, city: str, batch: str, proposal: str) -> None:
        self.store.sql(
            "UPDATE batches SET proposal = ? WHERE city = ? AND id = ?", (proposal, city, batch)
        )

    def record_progress(
        self,
        city: str,
        batch: str,
        span: tuple[int, int],
        paid: int,
        refused: int,
        outcomes: list[tuple[int, str]],
    ) -> bool:
        # Compare-and-set on the cursor: a chunk is counted once, whoever ran it.
        advance = (
            "UPDATE batches SET next_row = ?, paid_rows = paid_rows + ?,"
            " refused_rows = refused_rows + ? WHERE city = ? AND id = ? AND next_row = ?"
            " RETURNING id"
        )
        start, end = span
        statements: list[Statement] = [(advance, (end, paid, refused, city, batch, start))]
        note = "UPDATE batch_lines SET outcome = ? WHERE city = ? AND batch = ? AND row_no = ?"
        statements += [(note, (code, city, batch, row)) for row, code in outcomes]
        return bool(self.store.sql_batch(statements)[0])
