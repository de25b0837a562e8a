"""The stored form of a transaction's private, non-leaf fields (migration 0006).

JSON in their own columns beside the leaf's bytes. NULL parties means "not known when
written" (the history index derives them), never "nobody": an empty list is stored as
`[]`. Balances have no such difference: none known is none to show, stored as NULL.
"""

from __future__ import annotations

from typing import Final

import msgspec

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
