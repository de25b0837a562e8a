"""Blocks, transaction leaves and their hashes.

A block commits to its transactions twice: `tx_root`, the RFC 6962 Merkle root of
the block's own leaves, and (`log_size`, `log_root`), the root of the city's
whole transaction log so far, which is what checkpoints and witnesses sign.
Blocks link by `prev`, the hash of the previous header.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from localpay.ledger.results import Result

BLOCK_PREFIX: Final = b"localpay/block/v1\n"
GENESIS_PREV: Final = "00" * 32

_encoder: Final = msgspec.json.Encoder(order="sorted")


class BlockHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    city: str
    height: int
    prev: str
    time_ms: int
    tx_count: int
    tx_root: str
    log_size: int
    log_root: str


class TxRecord(msgspec.Struct, frozen=True):
    """One transaction as stored: its place in the log, the envelope, the result."""

    seq: int
    height: int
    id: str
    kind: str
    envelope: bytes
    result: bytes
    # Accounts whose histories list it (a rejection: its sender's only); not part of
    # the leaf. None: not known when written (an import, a witness's copy): the history
    # index derives them (services/history/service.py).
    parties: tuple[str, ...] | None = None
    # (account, balance after) of the account that sent the command, for that account's
    # own eyes: private, never part of the leaf (ledger/privacy.py).
    balances: tuple[tuple[str, int], ...] = ()

    def leaf(self) -> bytes:
        return leaf_bytes(self.envelope, self.result)

    def decoded_result(self) -> Result:
        return msgspec.json.decode(self.result, type=Result)


class BlockRecord(msgspec.Struct, frozen=True):
    """A block ready to write: header, its signature, checkpoint, leaves, state changes."""

    header: BlockHeader
    header_bytes: bytes
    hash: bytes
    signature: bytes
    checkpoint: str
    frontier: list[bytes]
    txs: list[TxRecord]
    state: list[tuple[str, bytes]]
    # State keys the block removes, after its changes (payment records past their
    # refund window: ledger/state.py).
    retired: list[str] = []


def encode_header(header: BlockHeader) -> bytes:
    return _encoder.encode(header)


def decode_header(data: bytes) -> BlockHeader:
    return msgspec.json.decode(data, type=BlockHeader)


def header_hash(header_bytes: bytes) -> bytes:
    return hashlib.sha256(BLOCK_PREFIX + header_bytes).digest()


def encode_result(result: Result) -> bytes:
    return _encoder.encode(result)


def leaf_bytes(envelope: bytes, result: bytes) -> bytes:
    """The Merkle leaf of a transaction: canonical {"result": ..., "tx": envelope}."""
    return b'{"result":' + result + b',"tx":' + envelope + b"}"


def origin(city: str, genesis_hash: bytes) -> str:
    """The checkpoint origin line: names the log by its city and its whole genesis hash
    (SHA-256 of the stored create_city envelope), so a checkpoint, and every signature
    over it, belongs to exactly one chain (C2SP sets no length limit on origins)."""
    return f"localpay.city/{city}/{genesis_hash.hex()}"
