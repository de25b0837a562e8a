"""Operator key rotations in a receipt: the evidence that the key which signed its
checkpoint descends from the pinned genesis key (docs/transparency.md).

A receipt whose checkpoint comes after rotate_operator commands carries, in
`operator_rotations`, each of them oldest first: the transaction, the checkpoint of the
block that recorded it (signed by the key it replaces, which so vouches for its
successor) and the inclusion proof of its leaf in that checkpoint. The offline check
starts from the pinned key and hands it on, one rotation at a time; the receipt's own
checkpoint must then be signed by the last key. The live side (`rotation_evidence`)
builds the same list from the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from localpay.domain.commands import DecodeError, RotateOperator, decode_envelope
from localpay.domain.errors import Refused
from localpay.ledger.blocks import decode_header, leaf_bytes
from localpay.ledger.log import checkpoint, merkle
from localpay.ledger.log.merkle_log import MerkleLog
from localpay.ledger.ports import Store
from localpay.ledger.results import Result
from localpay.ledger.signatures import verify_one
from localpay.ledger.state import Authorities
from localpay.services.transparency.receipts import transaction_json


class RotationFormatError(Refused, ValueError):
    """An `operator_rotations` entry lacks a field or has one of the wrong type."""


@dataclass(frozen=True, slots=True)
class RotationProof:
    tx_id: str
    envelope: bytes
    result: bytes
    leaf_index: int
    tree_size: int
    note: str
    proof: list[bytes]


def _get(obj: Any, key: str, kind: type, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RotationFormatError(f"{where} has no {key!r} of the right type")
    return value


def _hash(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise RotationFormatError(f"{where} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise RotationFormatError(f"{where} is not 64 hex digits") from None


def parse_rotations(receipt: Any) -> list[RotationProof]:
    """The receipt's rotations (none if it has no `operator_rotations`)."""
    found = receipt.get("operator_rotations", []) if isinstance(receipt, dict) else []
    if not isinstance(found, list):
        raise RotationFormatError("receipt.operator_rotations is not a list")
    proofs = []
    for n, item in enumerate(found):
        where = f"receipt.operator_rotations[{n}]"
        tx = _get(item, "transaction", dict, where)
        path = _get(item, "inclusion_proof", list, where)
        proofs.append(
            RotationProof(
                tx_id=_get(tx, "id", str, f"{where}.transaction"),
                envelope=_get(tx, "envelope", str, f"{where}.transaction").encode(),
                result=_get(tx, "result", str, f"{where}.transaction").encode(),
                leaf_index=_get(item, "leaf_index", int, where),
                tree_size=_get(item, "tree_size", int, where),
                note=_get(item, "note", str, where),
                proof=[_hash(h, f"{where}.inclusion_proof[{i}]") for i, h in enumerate(path)],
            )
        )
    return proofs


def _fault(city: str, origin: str, p: RotationProof, key: bytes) -> str | RotateOperator:
    """The rotation `p` hands the operator key on from `key` (returned: the command), or
    why not: it must be an accepted rotate_operator of this city from `key`, signed by
    `key`, in a checkpoint of this log that `key` signed."""
    try:
        body, sigs = checkpoint.open_note(p.note)
        point = checkpoint.parse_checkpoint(body)
    except checkpoint.NoteError as exc:
        return f"unreadable signed note: {exc}"
    if point.origin != origin or point.size != p.tree_size:
        return "its checkpoint is not of this log or not of its tree size"
    if not any(checkpoint.verify_note_signature(body, s, origin, key) for s in sigs):
        return f"its checkpoint is not signed by the key it rotates from, {key.hex()}"
    leaf = merkle.leaf_hash(leaf_bytes(p.envelope, p.result))
    if not merkle.verify_inclusion(leaf, p.leaf_index, p.tree_size, p.proof, point.root):
        return "the proof does not lead to its checkpoint's root"
    try:
        envelope, command = decode_envelope(p.envelope)
        code = msgspec.json.decode(p.result, type=Result).code
    except (DecodeError, msgspec.MsgspecError) as exc:
        return f"its envelope or result is unreadable ({exc})"
    if not isinstance(command, RotateOperator) or (command.city, command.id) != (city, p.tx_id):
        return "not this city's rotate_operator"
    if code != "ok" or command.old_key != key.hex():
        return f"not an accepted rotation from {key.hex()}"
    signed = verify_one(bytes(envelope.body), envelope.sigs)
    if signed is None or key.hex() not in signed:
        return "it is not signed by the key it rotates from"
    return command


def follow_rotations(
    city: str, origin: str, tree_size: int, proofs: list[RotationProof], key: bytes
) -> tuple[bytes, str | None]:
    """The key a checkpoint of `tree_size` must be signed by, handed on from `key` by
    every rotation (each in a checkpoint before the next, all before `tree_size`); and
    what breaks the chain of keys (None: nothing)."""
    after = -1
    for n, p in enumerate(proofs):
        if not after < p.tree_size < tree_size:
            found: str | RotateOperator = "out of order, or not before the receipt's checkpoint"
        else:
            found = _fault(city, origin, p, key)
        if isinstance(found, str):
            return key, f"operator key rotation #{n} (tx {p.tx_id}): {found}"
        key, after = bytes.fromhex(found.new_key), p.tree_size
    return key, None


# -- the live side: the evidence a receipt carries ------------------------------------------


class RotationEvidence:
    """The `operator_rotations` of receipts, from the chain: immutable once made, so each
    rotation's entry is built once per city."""

    def __init__(self, store: Store, log: Callable[[str, int], MerkleLog]) -> None:
        self.store = store
        self.log = log
        self._made: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    def _entry(self, city: str, rotation_id: str) -> tuple[int, dict[str, Any]]:
        """(the size of the checkpoint that recorded it, the receipt's entry for it)."""
        made = self._made.get((city, rotation_id))
        if made is not None:
            return made
        tx = self.store.find_tx(city, rotation_id)
        assert tx is not None, f"rotation {rotation_id} of the state is not on the chain"
        block = next(iter(self.store.blocks(city, tx.height, tx.height + 1)))
        size = decode_header(block.header_bytes).log_size
        proof = self.log(city, size).inclusion_proof(tx.seq, size)
        entry = {
            "transaction": transaction_json(tx),
            "leaf_index": tx.seq,
            "tree_size": size,
            "note": block.checkpoint,
            "inclusion_proof": [h.hex() for h in proof],
        }
        self._made[(city, rotation_id)] = (size, entry)
        return size, entry

    def before(self, city: str, size: int, auth: Authorities) -> list[dict[str, Any]]:
        """The entries of the rotations recorded before the checkpoint of `size` (one in
        that checkpoint's own block takes effect after it)."""
        out = []
        for rotation in auth.rotations:
            recorded, entry = self._entry(city, rotation.id)
            if recorded >= size:
                break
            out.append(entry)
        return out

    def key_at(self, city: str, size: int, auth: Authorities, genesis_key: str) -> str:
        """The operator key that signed the checkpoint of `size`."""
        rotations = {r.id: r.key for r in auth.rotations}
        key = genesis_key
        for entry in self.before(city, size, auth):
            key = rotations[entry["transaction"]["id"]]
        return key
