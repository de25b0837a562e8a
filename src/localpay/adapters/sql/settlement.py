"""The settlement tables (services/settlement/ports.SettlementRepository), migration 0019:
payout accounts, batches with their files and lines, imported statements, the references
they matched, the reconciliation's exceptions and the reserve proofs.

정산 기록: 지급 계좌와 지급 파일(pain.001)은 개인정보(예금주·계좌번호)를 담으므로 마스터 키로
봉인해서만 저장한다. Personal data is kept only sealed under the master key, bound to its
row (a seal moved to another row does not open): the account's party, and the pain.001
file, which names every holder and account. One query text for both dialects.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from localpay.adapters.secrets import Sealer, seal_of
from localpay.adapters.sql.runner import Row, SqlRunner, Statement
from localpay.ledger.ports import StoreConflict
from localpay.services.settlement.ports import (
    LINE_PAID,
    LINE_SENT,
    OPEN,
    RESOLVED,
    BatchLine,
    Party,
    PayoutBatch,
    ReconException,
    ReserveProof,
    StatementRecord,
    StoredAccount,
)

_PUT_ACCOUNT: Final = (
    "INSERT INTO settlement_accounts (city, owner, party_sealed, digest, at_ms)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (city, owner) DO UPDATE SET"
    " party_sealed = excluded.party_sealed, digest = excluded.digest, at_ms = excluded.at_ms"
)
_ACCOUNT: Final = (
    "SELECT party_sealed, digest, at_ms FROM settlement_accounts WHERE city = ? AND owner = ?"
)

_BATCH_COLUMNS: Final = "city, id, kind, execution, created_ms, status, total, detail"
_ADD_BATCH: Final = (
    f"INSERT INTO settlement_batches ({_BATCH_COLUMNS}, file_sealed)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINE_COLUMNS: Final = "payout, owner, owner_kind, amount, status, reason, bank_ref"
_ADD_LINE: Final = (
    f"INSERT INTO settlement_lines (city, batch, position, {_LINE_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_BATCH: Final = f"SELECT {_BATCH_COLUMNS} FROM settlement_batches WHERE city = ? AND id = ?"
_BATCH_FILE: Final = "SELECT file_sealed FROM settlement_batches WHERE city = ? AND id = ?"
_NEWEST: Final = " ORDER BY created_ms DESC, id DESC LIMIT ?"
_BATCHES: Final = f"SELECT {_BATCH_COLUMNS} FROM settlement_batches WHERE city = ?{_NEWEST}"
_OWNERS: Final = " AND id IN (SELECT batch FROM settlement_lines WHERE city = ? AND owner = ?)"
_BATCHES_OF: Final = (
    f"SELECT {_BATCH_COLUMNS} FROM settlement_batches WHERE city = ?{_OWNERS}{_NEWEST}"
)
# The lines of the batches a page found (their ids as parameters): a batch and its lines
# are written in one transaction, so every batch seen has all its lines.
_LINES_OF: Final = (
    f"SELECT batch, {_LINE_COLUMNS} FROM settlement_lines WHERE city = ? AND batch IN ({{ids}})"
    " ORDER BY batch, position"
)
_LINES: Final = (
    f"SELECT batch, {_LINE_COLUMNS} FROM settlement_lines WHERE city = ? AND batch = ?"
    " ORDER BY position"
)
_SET_BATCH: Final = "UPDATE settlement_batches SET status = ?, detail = ? WHERE city = ? AND id = ?"
_SET_LINE: Final = (
    "UPDATE settlement_lines SET status = ?, reason = ?, bank_ref = ? WHERE id ="
    " (SELECT max(id) FROM settlement_lines WHERE city = ? AND payout = ?)"
)
_BATCHED: Final = "SELECT DISTINCT payout FROM settlement_lines WHERE city = ? AND status IN (?, ?)"

_STATEMENT_COLUMNS: Final = (
    "city, statement_id, day, opening, closing, entries, matched, exceptions, imported_ms"
)
_ADD_STATEMENT: Final = (
    f"INSERT INTO settlement_statements ({_STATEMENT_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1"
)
_STATEMENTS: Final = (
    f"SELECT {_STATEMENT_COLUMNS} FROM settlement_statements WHERE city = ?"
    " ORDER BY day DESC, imported_ms DESC, statement_id DESC LIMIT ?"
)
_ADD_CLOSURE: Final = (
    "INSERT INTO settlement_closures (city, day, reason) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING 1"
)
_REMOVE_CLOSURE: Final = "DELETE FROM settlement_closures WHERE city = ? AND day = ? RETURNING 1"
_CLOSURES: Final = "SELECT day, reason FROM settlement_closures WHERE city = ? ORDER BY day"
_ADD_MATCHED: Final = (
    "INSERT INTO settlement_matched (city, ref) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
_MATCHED: Final = "SELECT ref FROM settlement_matched WHERE city = ?"

_EXCEPTION_COLUMNS: Final = (
    "city, statement_id, bank_ref, end_to_end, direction, amount, reason, detail, line,"
    " status, note, at_ms"
)
# A re-run of an interrupted import adds no exception twice (the table's unique key).
_ADD_EXCEPTION: Final = (
    f"INSERT INTO settlement_exceptions ({_EXCEPTION_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_EXCEPTIONS: Final = (
    f"SELECT id, {_EXCEPTION_COLUMNS} FROM settlement_exceptions"
    " WHERE city = ? AND (? = '' OR status = ?) ORDER BY id LIMIT ?"
)
_RESOLVE: Final = (
    "UPDATE settlement_exceptions SET status = ?, note = ?"
    " WHERE city = ? AND id = ? AND status = ? RETURNING 1"
)

_PROOF_COLUMNS: Final = (
    "city, size, root, at_ms, supply, in_transit, trust, statement_day, unbooked, shortfall"
)
_ADD_PROOF: Final = (
    f"INSERT INTO settlement_proofs ({_PROOF_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_PROOFS: Final = (
    f"SELECT {_PROOF_COLUMNS} FROM settlement_proofs WHERE city = ? ORDER BY size DESC LIMIT ?"
)

_SEALED_ACCOUNTS: Final = "SELECT city, owner, party_sealed FROM settlement_accounts"
_RESEAL_ACCOUNT: Final = (
    "UPDATE settlement_accounts SET party_sealed = ?"
    " WHERE city = ? AND owner = ? AND party_sealed = ?"
)
_SEALED_FILES: Final = "SELECT city, id, file_sealed FROM settlement_batches"
_RESEAL_FILE: Final = (
    "UPDATE settlement_batches SET file_sealed = ? WHERE city = ? AND id = ? AND file_sealed = ?"
)


def account_context(city: str, owner: str) -> bytes:
    """What a sealed payout account is bound to: its owner in its city."""
    return f"localpay/settlement-account/v1\n{city}\n{owner}".encode()


def file_context(city: str, batch: str) -> bytes:
    """What a sealed payout file is bound to: its batch in its city."""
    return f"localpay/settlement-file/v1\n{city}\n{batch}".encode()


def _line(row: Row) -> BatchLine:
    _, payout, owner, kind, amount, status, reason, bank_ref = row
    return BatchLine(
        str(payout), str(owner), str(kind), int(amount), str(status), str(reason), str(bank_ref)
    )


def _line_row(x: BatchLine) -> tuple[object, ...]:
    return (x.payout, x.owner, x.owner_kind, x.amount, x.status, x.reason, x.bank_ref)


def _batch(row: Row, lines: tuple[BatchLine, ...]) -> PayoutBatch:
    city, ident, kind, execution, created, status, total, detail = row
    return PayoutBatch(
        str(city), str(ident), str(kind), dt.date.fromisoformat(str(execution)), int(created),
        str(status), int(total), lines, str(detail),
    )  # fmt: skip


def _statement(row: Row) -> StatementRecord:
    city, ident, day, opening, closing, entries, matched, exceptions, imported = row
    return StatementRecord(
        str(city), str(ident), dt.date.fromisoformat(str(day)), int(opening), int(closing),
        int(entries), int(matched), int(exceptions), int(imported),
    )  # fmt: skip


def _exception(row: Row) -> ReconException:
    (ident, city, statement, bank_ref, e2e, direction, amount, reason, detail, line, status,
     note, at) = row  # fmt: skip
    return ReconException(
        str(city), int(ident), str(statement), str(bank_ref), str(e2e), str(direction),
        int(amount), str(reason), str(detail), int(line), str(status), str(note), int(at),
    )  # fmt: skip


def _proof(row: Row) -> ReserveProof:
    city, size, root, at, supply, transit, trust, day, unbooked, shortfall = row
    return ReserveProof(
        str(city), int(size), str(root), int(at), int(supply), int(transit), int(trust),
        None if day is None else dt.date.fromisoformat(str(day)), int(unbooked), int(shortfall),
    )  # fmt: skip


class SqlSettlement:
    def __init__(self, store: SqlRunner, master: Sealer) -> None:
        self.store = store
        self.master = master

    # -- payout accounts --------------------------------------------------------------------

    def put_account(self, account: StoredAccount) -> None:
        plain = msgspec.json.encode(account.party)
        sealed = self.master.seal(plain, account_context(account.city, account.owner))
        row = (account.city, account.owner, sealed, account.digest, account.at_ms)
        self.store.sql(_PUT_ACCOUNT, row)

    def account(self, city: str, owner: str) -> StoredAccount | None:
        rows = self.store.sql(_ACCOUNT, (city, owner))
        if not rows:
            return None
        sealed, digest, at = rows[0]
        plain = self.master.open(bytes(sealed), account_context(city, owner))
        return StoredAccount(
            city, owner, msgspec.json.decode(plain, type=Party), str(digest), int(at)
        )

    # -- batches and their lines ------------------------------------------------------------

    def add_batch(self, batch: PayoutBatch, data: bytes) -> PayoutBatch:
        found = self.batch(batch.city, batch.id)
        if found is not None:
            return found
        try:
            self.store.sql_batch(self._batch_rows(batch, data))
        except StoreConflict:
            # Another process recorded the same id between the read and the write.
            found = self.batch(batch.city, batch.id)
            if found is None:
                raise
            return found
        return batch

    def _batch_rows(self, b: PayoutBatch, data: bytes) -> list[Statement]:
        sealed = self.master.seal(data, file_context(b.city, b.id))
        head = (
            b.city, b.id, b.kind, b.execution.isoformat(), b.created_ms, b.status, b.total,
            b.detail, sealed,
        )  # fmt: skip
        lines = [(_ADD_LINE, (b.city, b.id, n, *_line_row(x))) for n, x in enumerate(b.lines)]
        return [(_ADD_BATCH, head), *lines]

    def batch(self, city: str, ident: str) -> PayoutBatch | None:
        head, lines = self.store.sql_batch([(_BATCH, (city, ident)), (_LINES, (city, ident))])
        return _batch(head[0], tuple(_line(r) for r in lines)) if head else None

    def batch_file(self, city: str, ident: str) -> bytes | None:
        rows = self.store.sql(_BATCH_FILE, (city, ident))
        return self.master.open(bytes(rows[0][0]), file_context(city, ident)) if rows else None

    def batches(self, city: str, limit: int = 50) -> list[PayoutBatch]:
        return self._whole(city, self.store.sql(_BATCHES, (city, limit)))

    def batches_of(self, city: str, owner: str, limit: int = 50) -> list[PayoutBatch]:
        """Newest first, whole (every line of each batch, not only the owner's)."""
        return self._whole(city, self.store.sql(_BATCHES_OF, (city, city, owner, limit)))

    def _whole(self, city: str, heads: list[Row]) -> list[PayoutBatch]:
        """The batches of `heads` with their lines, read in one query."""
        if not heads:
            return []
        ids = tuple(str(h[1]) for h in heads)
        query = _LINES_OF.format(ids=", ".join("?" * len(ids)))
        by_batch: dict[str, list[BatchLine]] = {}
        for row in self.store.sql(query, (city, *ids)):
            by_batch.setdefault(str(row[0]), []).append(_line(row))
        return [_batch(h, tuple(by_batch.get(str(h[1]), ()))) for h in heads]

    def set_batch_status(self, city: str, ident: str, status: str, detail: str) -> None:
        self.store.sql(_SET_BATCH, (status, detail, city, ident))

    def set_line(self, city: str, payout: str, status: str, reason: str, bank_ref: str) -> None:
        self.store.sql(_SET_LINE, (status, reason, bank_ref, city, payout))

    def batched(self, city: str) -> set[str]:
        return {str(r[0]) for r in self.store.sql(_BATCHED, (city, LINE_SENT, LINE_PAID))}

    # -- statements and reconciliation ------------------------------------------------------

    def add_statement(self, record: StatementRecord) -> bool:
        r = record
        row = (
            r.city, r.statement_id, r.day.isoformat(), r.opening, r.closing, r.entries,
            r.matched, r.exceptions, r.imported_ms,
        )  # fmt: skip
        return bool(self.store.sql(_ADD_STATEMENT, row))

    def statements(self, city: str, limit: int = 50) -> list[StatementRecord]:
        return [_statement(r) for r in self.store.sql(_STATEMENTS, (city, limit))]

    def add_closure(self, city: str, day: dt.date, reason: str) -> bool:
        return bool(self.store.sql(_ADD_CLOSURE, (city, day.isoformat(), reason)))

    def remove_closure(self, city: str, day: dt.date) -> bool:
        return bool(self.store.sql(_REMOVE_CLOSURE, (city, day.isoformat())))

    def closures(self, city: str) -> dict[dt.date, str]:
        rows = self.store.sql(_CLOSURES, (city,))
        return {dt.date.fromisoformat(str(day)): str(reason) for day, reason in rows}

    def add_matched(self, city: str, refs: list[str]) -> None:
        if refs:
            self.store.sql_batch([(_ADD_MATCHED, (city, ref)) for ref in dict.fromkeys(refs)])

    def matched(self, city: str) -> set[str]:
        return {str(r[0]) for r in self.store.sql(_MATCHED, (city,))}

    def add_exception(self, item: ReconException) -> None:
        """Recorded under a new id (item.id is ignored); the same entry's same reason in
        the same statement is recorded once."""
        i = item
        row = (
            i.city, i.statement_id, i.bank_ref, i.end_to_end, i.direction, i.amount, i.reason,
            i.detail, i.line, i.status, i.note, i.at_ms,
        )  # fmt: skip
        self.store.sql(_ADD_EXCEPTION, row)

    def exceptions(
        self, city: str, status: str | None = OPEN, limit: int = 100
    ) -> list[ReconException]:
        """Oldest first (the queue's order); every status when `status` is None."""
        wanted = status or ""
        rows = self.store.sql(_EXCEPTIONS, (city, wanted, wanted, limit))
        return [_exception(r) for r in rows]

    def resolve_exception(self, city: str, ident: int, note: str) -> bool:
        return bool(self.store.sql(_RESOLVE, (RESOLVED, note, city, ident, OPEN)))

    # -- proofs of reserves -----------------------------------------------------------------

    def add_proof(self, proof: ReserveProof) -> None:
        p = proof
        day = None if p.statement_day is None else p.statement_day.isoformat()
        row = (
            p.city, p.size, p.root, p.at_ms, p.supply, p.in_transit, p.trust, day, p.unbooked,
            p.shortfall,
        )  # fmt: skip
        self.store.sql(_ADD_PROOF, row)

    def proofs(self, city: str, limit: int = 100) -> list[ReserveProof]:
        return [_proof(r) for r in self.store.sql(_PROOFS, (city, limit))]

    # -- master key rotation ----------------------------------------------------------------

    def reseal(self, old: Sealer, new: Sealer) -> int:
        """Seal every payout account and payout file under the `new` master key (`localpay
        keys rotate-master`); rows already under it are skipped, so a re-run finishes."""
        done = 0
        for query, again, context in (
            (_SEALED_ACCOUNTS, _RESEAL_ACCOUNT, account_context),
            (_SEALED_FILES, _RESEAL_FILE, file_context),
        ):
            for city, key, sealed in self.store.sql(query):
                current = bytes(sealed)
                seal = seal_of(current)
                if seal is not None and seal.key_id == new.key_id:
                    continue
                where = context(str(city), str(key))
                self.store.sql(
                    again, (new.seal(old.open(current, where), where), city, key, current)
                )
                done += 1
        return done
