"""The receipt format (localpay-receipt/v1): what the live service hands out and the
offline verifier (verifier.py) checks.

A receipt holds the transaction's exact envelope and result, its leaf's inclusion proof
to one checkpoint, that checkpoint's signed note with the witnesses' cosignatures, and
the operator's key and witness set as the chain names them (the caller should pin its
own copies: the receipt's are the operator's claim).
"""

from __future__ import annotations

from typing import Any, Final

from localpay.ledger.blocks import BlockHeader, TxRecord
from localpay.ledger.log import merkle
from localpay.ledger.state import Authorities
from localpay.services.transparency.views import CheckpointView

RECEIPT_FORMAT: Final = "localpay-receipt/v1"


def receipt_context(
    city: str,
    origin: str,
    operator_key: str,
    header: BlockHeader,
    view: CheckpointView,
    auth: Authorities,
) -> dict[str, Any]:
    """What every receipt proved against the checkpoint of block `header` shares; `view`
    is that checkpoint with its cosignatures (Transparency.checkpoint's answer)."""
    return {
        "format": RECEIPT_FORMAT,
        "city": city,
        "origin": origin,
        "operator_key": operator_key,
        "tree_size": header.log_size,
        "checkpoint_height": header.height,
        "note": view.note,
        "witnesses": [{"name": n, "key": k} for k, n in sorted(auth.witnesses.items())],
        "quorum": auth.quorum,
        "final": view.final,
    }


def transaction_json(tx: TxRecord) -> dict[str, Any]:
    """A stored transaction as receipts (and their rotation evidence) carry it: the exact
    envelope and recorded result, and its place in the chain."""
    return {
        "id": tx.id,
        "seq": tx.seq,
        "height": tx.height,
        "kind": tx.kind,
        "envelope": tx.envelope.decode(),
        "result": tx.result.decode(),
    }


def receipt_of(context: dict[str, Any], tx: TxRecord, proof: list[bytes]) -> dict[str, Any]:
    """The receipt of `tx`: the shared `context` with the transaction and its proof."""
    return {
        **context,
        "transaction": transaction_json(tx),
        "leaf_index": tx.seq,
        "leaf_hash": merkle.leaf_hash(tx.leaf()).hex(),
        "inclusion_proof": [h.hex() for h in proof],
    }
