"""The proposals table (maker-checker) behind services/approvals/ports.py.

One query text for both dialects. Signatures are kept as the JSON list msgspec
writes; the compare-and-set updates compare that exact encoding, which re-encoding
the decoded list reproduces byte for byte (every row is written by this module).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from localpay.adapters.sql.runner import Row, SqlRunner
from localpay.domain.commands import Signature
from localpay.domain.proposals import PENDING, REJECTED, SUBMITTED, Proposal

_COLUMNS: Final = "id, city, kind, body, sigs, maker, status, outcome, created_ms"
_INSERT: Final = (
    f"INSERT INTO proposals ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_FIND: Final = f"SELECT {_COLUMNS} FROM proposals WHERE id = ? AND city = ?"
_ADD_SIGNATURE: Final = (
    "UPDATE proposals SET sigs = ? WHERE id = ? AND sigs = ? AND status = ? RETURNING id"
)
_REJECT: Final = (
    "UPDATE proposals SET status = ? WHERE id = ? AND city = ? AND status = ? AND sigs = ?"
    " RETURNING id"
)
_SUBMITTED: Final = "UPDATE proposals SET status = ?, outcome = ? WHERE id = ?"
# Keyset order (created_ms, id): items made in the same millisecond are neither
# skipped nor repeated from one page to the next.
_PAGE: Final = (
    f"SELECT {_COLUMNS} FROM proposals WHERE city = ?"
    " AND (created_ms < ? OR (created_ms = ? AND id < ?))"
)
_PAGE_END: Final = " ORDER BY created_ms DESC, id DESC LIMIT ?"

_sigs: Final = msgspec.json.Decoder(tuple[Signature, ...])


def _encoded(sigs: tuple[Signature, ...]) -> bytes:
    return msgspec.json.encode(sigs)


def _proposal(row: Row) -> Proposal:
    id_, city, kind, body, sigs, maker, status, outcome, created_ms = row
    return Proposal(
        id=id_,
        city=city,
        kind=kind,
        body=bytes(body),
        sigs=_sigs.decode(bytes(sigs)),
        maker=maker,
        status=status,
        outcome=outcome,
        created_ms=int(created_ms),
    )


class SqlProposalRepository:
    def __init__(self, store: SqlRunner) -> None:
        self.store = store

    def add(self, proposal: Proposal) -> bool:
        p = proposal
        row = (p.id, p.city, p.kind, p.body, _encoded(p.sigs), p.maker, p.status, p.outcome)
        return bool(self.store.sql(_INSERT, (*row, p.created_ms)))

    def find(self, city: str, proposal_id: str) -> Proposal | None:
        rows = self.store.sql(_FIND, (proposal_id, city))
        return _proposal(rows[0]) if rows else None

    def add_signature(
        self, proposal_id: str, seen: tuple[Signature, ...], sigs: tuple[Signature, ...]
    ) -> bool:
        params = (_encoded(sigs), proposal_id, _encoded(seen), PENDING)
        return bool(self.store.sql(_ADD_SIGNATURE, params))

    def reject(self, city: str, proposal_id: str, seen: tuple[Signature, ...]) -> bool:
        params = (REJECTED, proposal_id, city, PENDING, _encoded(seen))
        return bool(self.store.sql(_REJECT, params))

    def submitted(self, proposal_id: str, outcome: str) -> None:
        self.store.sql(_SUBMITTED, (SUBMITTED, outcome, proposal_id))

    def page(
        self, city: str, status: str | None, before: tuple[int, str], limit: int
    ) -> list[Proposal]:
        before_ms, before_id = before
        query = _PAGE
        params: list[Any] = [city, before_ms, before_ms, before_id]
        if status:
            query += " AND status = ?"
            params.append(status)
        params.append(limit)
        rows = self.store.sql(query + _PAGE_END, tuple(params))
        return [_proposal(r) for r in rows]
