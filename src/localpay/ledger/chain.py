"""Sealing blocks: the one place a block header, signature and checkpoint are made.

The sequencer seals blocks and verify/witnesses re-derive them with the same code,
so the two can never disagree on encoding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec
import nacl.signing

from localpay.ledger.blocks import (
    GENESIS_PREV,
    BlockHeader,
    BlockRecord,
    TxRecord,
    encode_header,
    header_hash,
    origin,
)
from localpay.ledger.log import checkpoint, merkle
from localpay.ledger.ports import Store, StoredBlock


class ChainHead(msgspec.Struct):
    """Where the next block goes: its height, the previous hash, the log so far."""

    city: str
    height: int
    prev: str
    time_ms: int
    log: merkle.CompactRange
    origin: str

    @classmethod
    def empty(cls, city: str) -> ChainHead:
        return cls(city, 0, GENESIS_PREV, 0, merkle.CompactRange(), "")

    @classmethod
    def after(cls, city: str, block: StoredBlock, genesis_hash: str) -> ChainHead:
        """The head after `block`, of the chain whose genesis hash (hex) is given."""
        header = msgspec.json.decode(block.header_bytes, type=BlockHeader)
        log = merkle.CompactRange(header.log_size, block.frontier)
        return cls(
            city,
            header.height + 1,
            block.hash.hex(),
            header.time_ms,
            log,
            chain_origin(city, genesis_hash),
        )


def chain_origin(city: str, genesis_hash: str) -> str:
    """The log's origin line for the chain whose genesis envelope hashes to `genesis_hash`."""
    return origin(city, bytes.fromhex(genesis_hash))


def tx_leaf_hashes(txs: Sequence[TxRecord]) -> list[bytes]:
    return [merkle.leaf_hash(tx.leaf()) for tx in txs]


def seal(
    head: ChainHead,
    time_ms: int,
    txs: list[TxRecord],
    state: list[tuple[str, bytes]],
    operator: nacl.signing.SigningKey,
) -> BlockRecord:
    """Make the next block and advance `head` past it."""
    leaves = tx_leaf_hashes(txs)
    for leaf in leaves:
        head.log.append(leaf)
    header = BlockHeader(
        city=head.city,
        height=head.height,
        prev=head.prev,
        time_ms=time_ms,
        tx_count=len(txs),
        tx_root=merkle.root(leaves).hex(),
        log_size=head.log.size,
        log_root=head.log.root().hex(),
    )
    header_bytes = encode_header(header)
    block_hash = header_hash(header_bytes)
    signature = operator.sign(block_hash).signature
    note = sign_checkpoint(head.origin, header.log_size, head.log.root(), operator)
    head.height += 1
    head.prev = block_hash.hex()
    head.time_ms = time_ms
    return BlockRecord(
        header, header_bytes, block_hash, signature, note, list(head.log.hashes), txs, state
    )


def sign_checkpoint(
    log_origin: str, size: int, root: bytes, operator: nacl.signing.SigningKey
) -> str:
    body = checkpoint.checkpoint_body(log_origin, size, root)
    line = checkpoint.sign_note(body, log_origin, bytes(operator))
    return checkpoint.note_text(body, [line])


def genesis_hash_of(envelope: bytes) -> str:
    """A chain's identity: SHA-256 (hex) of its create_city envelope as stored."""
    return hashlib.sha256(envelope).hexdigest()


def stored_genesis_hash(store: Store, city: str) -> str | None:
    """The genesis hash of the city's chain in `store` (None: no such city)."""
    first = list(store.txs(city, 0, 1))
    return genesis_hash_of(first[0].envelope) if first else None
