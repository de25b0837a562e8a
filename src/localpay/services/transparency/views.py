"""What the transparency service returns besides receipts: checkpoints and proofs.

A receipt stays a JSON document (receipts.py, format localpay-receipt/v1): it is made to
be saved, mailed and checked offline by verifiers that read JSON, so its shape is the
format's, written down in docs/transparency.md.
"""

from __future__ import annotations

import msgspec


class Signer(msgspec.Struct, frozen=True, omit_defaults=True):
    """One signature on a checkpoint: the operator's, or a witness's cosignature."""

    role: str
    name: str
    key: str
    #: A cosignature's own time (seconds); the operator's signature has none.
    timestamp: int | None = None


class CheckpointView(msgspec.Struct, frozen=True):
    size: int
    height: int
    root: str
    #: The C2SP signed note with every valid cosignature line.
    note: str
    signers: list[Signer]
    cosignatures: int
    quorum: int
    final: bool


class ConsistencyProof(msgspec.Struct, frozen=True):
    old: int
    new: int
    proof: list[str]
