"""The programs service's tables (services/programs/ports.ProgramTables): sealed evidence
until the decision, decisions, batches and their lines. Rows in and out are plain tuples
in the tables' column order (adapters import no service; the service names the fields).
One query text for both dialects; big files go in as multi-row inserts, in one
transaction."""

from __future__ import annotations

from typing import Any, Final

from localpay.adapters.sql.runner import Row, SqlRunner, Statement

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


class SqlProgramTables:
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

    def record_decisions(self, city: str, program: str, decisions: list[Row], now_ms: int) -> None:
        """(wallet, eligible, reasons, evidence, salt, decided_on) each; the evidence of
        each is deleted in the same transaction."""
        statements: list[Statement] = []
        for wallet, eligible, reasons, evidence, salt, on in decisions:
            values = (city, program, wallet, int(eligible), reasons, evidence, salt, on)
            statements.append((_DECIDE, (*values, now_ms)))
            statements.append((_FORGET, (city, program, wallet)))
        if statements:
            self.store.sql_batch(statements)

    def decisions(self, city: str, program: str) -> list[Row]:
        return self.store.sql(_DECISIONS, (city, program))

    # -- batches ---------------------------------------------------------------------------

    def add_batch(self, head: Row, lines: list[Row]) -> bool:
        """`head` in the order of the batches columns, each line in that of the lines
        columns (line, row_no, wallet, ...)."""
        city, batch = head[0], head[1]
        if self.batch(city, batch) is not None:
            return False
        marks = ", ".join("?" * len(head))
        statements: list[Statement] = [
            (f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({marks})", head)
        ]
        for start in range(0, len(lines), _CHUNK):
            chunk = lines[start : start + _CHUNK]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            params: list[Any] = []
            for x in chunk:
                params += [city, batch, *x]
            query = f"INSERT INTO batch_lines (city, batch, {_LINE_COLUMNS}) VALUES {values}"
            statements.append((query, tuple(params)))
        self.store.sql_batch(statements)
        return True

    def batch(self, city: str, batch: str) -> Row | None:
        rows = self.store.sql(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE city = ? AND id = ?", (city, batch)
        )
        return rows[0] if rows else None

    def batches(self, city: str, limit: int) -> list[Row]:
        query = (
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE city = ?"
            " ORDER BY created_ms DESC, id LIMIT ?"
        )
        return self.store.sql(query, (city, limit))

    def lines(self, city: str, batch: str, offset: int, limit: int, bad_only: bool) -> list[Row]:
        bad = " AND verdict <> 'ok'" if bad_only else ""
        query = (
            f"SELECT {_LINE_COLUMNS} FROM batch_lines WHERE city = ? AND batch = ?{bad}"
            " ORDER BY line LIMIT ? OFFSET ?"
        )
        return self.store.sql(query, (city, batch, limit, offset))

    def verdicts(self, city: str, batch: str) -> dict[str, int]:
        query = (
            "SELECT verdict, COUNT(*) FROM batch_lines WHERE city = ? AND batch = ?"
            " GROUP BY verdict"
        )
        return {str(v): int(n) for v, n in self.store.sql(query, (city, batch))}

    def rows(self, city: str, batch: str) -> list[Row]:
        query = (
            f"SELECT {_LINE_COLUMNS} FROM batch_lines WHERE city = ? AND batch = ?"
            " AND row_no >= 0 ORDER BY row_no"
        )
        return self.store.sql(query, (city, batch))

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
