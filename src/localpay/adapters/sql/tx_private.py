"""The stored form of a transaction's private, non-leaf fields (migration 0006).

JSON in their own columns beside the leaf's bytes. NULL parties means "not known when
written" (the history index derives them), never "nobody": an empty list is stored as
`[]`. Balances have no such difference: none known is none to show, stored as NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from localpay.ledger.blocks import TxRecord

_encoder: Final = msgspec.json.Encoder()
_parties: Final = msgspec.json.Decoder(tuple[str, ...])
_balances: Final = msgspec.json.Decoder(tuple[tuple[str, int], ...])


def encode_parties(parties: tuple[str, ...] | None) -> bytes | None:
    return None if parties is None else _encoder.encode(parties)


def decode_parties(data: bytes | None) -> tuple[str, ...] | None:
    return None if data is None else _parties.decode(data)


def encode_balances(balances: tuple[tuple[str, int], ...]) -> bytes | None:
    return _encoder.encode(balances) if balances else None


def decode_balances(data: bytes | None) -> tuple[tuple[str, int], ...]:
    return () if data is None else _balances.decode(data)


def tx_row(city: str, tx: TxRecord) -> tuple[Any, ...]:
    """A transaction as both stores write it, in the column order of the `txs` table:
    city, seq, height, id, kind, envelope, result, parties, balances."""
    return (
        city,
        tx.seq,
        tx.height,
        tx.id,
        tx.kind,
        tx.envelope,
        tx.result,
        encode_parties(tx.parties),
        encode_balances(tx.balances),
    )


def tx_record(row: Sequence[Any]) -> TxRecord:
    """A `txs` row read back (seq, height, id, kind, envelope, result, parties, balances),
    by either store: bytes columns may come as memoryview (psycopg) or bytes (sqlite3)."""
    seq, height, tx_id, kind, envelope, result, parties, balances = row
    return TxRecord(
        seq,
        height,
        tx_id,
        kind,
        bytes(envelope),
        bytes(result),
        decode_parties(None if parties is None else bytes(parties)),
        decode_balances(None if balances is None else bytes(balances)),
    )
