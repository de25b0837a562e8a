"""What several routers share: the bounded numbers a request may name, cursor pagination,
and the schemas of the signed envelope, the command receipt and the transaction receipt.

A list answers `{"items": [...], "next": <cursor or null>}`, newest first; `next` is an
opaque cursor (the base64 of a number) that this API gave and only this API decodes.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Final

from fastapi import Path, Query
from pydantic import BaseModel, Field

from localpay.domain.limits import CURSOR_CHARS_MAX, INTEGER_MAX, PAGE_MAX
from localpay.entrypoints.api.problems import ApiProblem

#: Items of a page when the request names no limit (at most PAGE_MAX).
DEFAULT_PAGE: Final = 50

# Every height, size, sequence number and cursor a request names is below INTEGER_MAX
# (domain/limits.py): refused when decoded (a path naming one is 404, a query or cursor
# 422), never handed to a store.
Height = Annotated[int, Path(ge=0, lt=INTEGER_MAX, description="a block height")]
Size = Annotated[int, Path(ge=1, lt=INTEGER_MAX, description="a tree size")]
Cursor = Annotated[
    str | None, Query(max_length=CURSOR_CHARS_MAX, description="the `next` of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem("validation_failed", "the cursor is not one this API gave") from None
    if not 0 <= value < INTEGER_MAX:
        raise ApiProblem("validation_failed", "the cursor is not one this API gave")
    return value


def page(items: list[Any], next_place: int | None) -> dict[str, Any]:
    """One page of a list; `next_place` is where the next (older) page starts, if any."""
    return {"items": items, "next": encode_cursor(next_place) if next_place is not None else None}


# -- transactions and their receipts (documentation; handlers return plain JSON) ---------------


class TransactionOut(BaseModel):
    id: str
    seq: int
    height: int
    kind: str
    envelope: str = Field(description="the stored signed envelope, exact bytes as text")
    result: str = Field(description="the recorded result, exact bytes as text")


class WitnessOut(BaseModel):
    name: str
    key: str


class ReceiptOut(BaseModel):
    format: str = Field(description="localpay-receipt/v1")
    city: str
    origin: str = Field(description="the log's name: the checkpoint's first line")
    operator_key: str = Field(description="the city's operator key (genesis), hex")
    transaction: TransactionOut
    leaf_index: int
    leaf_hash: str = Field(description='SHA-256(0x00 || {"result":<result>,"tx":<envelope>})')
    tree_size: int
    checkpoint_height: int
    inclusion_proof: list[str] = Field(description="RFC 9162 inclusion proof, hex hashes")
    note: str = Field(description="the checkpoint of tree_size, with its cosignatures")
    witnesses: list[WitnessOut] = Field(description="the current on-chain witness set")
    quorum: int
    final: bool


# -- signed commands (JSON Schema: the body is read as bytes, never re-encoded) ---------------

ENVELOPE_SCHEMA: Final = {
    "type": "object",
    "required": ["body", "sigs"],
    "properties": {
        "body": {"type": "object", "description": "the command, canonical JSON (encoding.md)"},
        "sigs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 4,
            "items": {
                "type": "object",
                "required": ["key", "sig"],
                "properties": {
                    "key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "sig": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
                },
            },
        },
    },
}

RECEIPT_SCHEMA: Final = {
    "type": "object",
    "required": ["id", "code"],
    "properties": {
        "id": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "seq": {"type": "integer"},
        "height": {"type": "integer"},
        "duplicate": {"type": "boolean"},
        "proof": {
            "$ref": "#/components/schemas/ReceiptOut",
            "description": "the transaction's receipt with its inclusion proof to its own"
            " block's checkpoint (check it with localpay verify-receipt)",
        },
        "result": {
            "type": "object",
            "description": "the result as recorded on the chain (in the Merkle leaf)",
            "properties": {
                "code": {"type": "string"},
                "lots": {"type": "array", "items": {"type": "array"}},
            },
        },
        "balance": {
            "type": "integer",
            "description": "the sender's balance after the command, shown to the sender"
            " alone (never recorded, never shown to another party)",
        },
    },
}
