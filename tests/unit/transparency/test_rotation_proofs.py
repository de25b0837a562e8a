"""The offline check of a receipt's operator key rotations, in localpay's verifier and in
the standalone tools/verify_receipt.py alike: synthetic logs, each breaking one rule."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.ledger.blocks import leaf_bytes
from localpay.ledger.chain import sign_checkpoint
from localpay.ledger.log import merkle
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.transparency.verifier import verify_receipt

CITY = "gimpo"
ORIGIN = f"localpay.city/{CITY}/{'ab' * 32}"
OLD, NEW, OTHER = (nacl.signing.SigningKey(bytes([n]) * 32) for n in (1, 2, 3))
OK = b'{"code":"ok"}'


def _tool() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "tools" / "verify_receipt.py"
    spec = importlib.util.spec_from_file_location("verify_receipt_tool", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def _tx(tx_id: str, envelope: bytes, result: bytes, seq: int) -> dict[str, Any]:
    kind = "rotate_operator" if b"rotate_operator" in envelope else "open_wallet"
    return {
        "id": tx_id,
        "seq": seq,
        "height": seq,
        "kind": kind,
        "envelope": envelope.decode(),
        "result": result.decode(),
    }


def receipt(
    old_key: str = public_key_hex(OLD),
    signer: nacl.signing.SigningKey = OLD,
    result: bytes = OK,
    vouched_by: nacl.signing.SigningKey = OLD,
) -> dict[str, Any]:
    """A log of three leaves: an opening, a rotation OLD -> NEW (checkpoint of size 2 by
    `vouched_by`), then the receipt's own transaction in a checkpoint of size 3 by NEW."""
    wallet = nacl.signing.SigningKey.generate()
    opening = c.OpenWallet(
        id="01" * 16, city=CITY, wallet="w-one", keys=[public_key_hex(wallet)], custodial=False
    )
    first = sign_command(opening, [wallet])
    rotate = c.RotateOperator(id="02" * 16, city=CITY, old_key=old_key, new_key=public_key_hex(NEW))
    rotation = sign_command(rotate, [signer])
    mine = c.OpenWallet(
        id="03" * 16, city=CITY, wallet="w-two", keys=[public_key_hex(wallet)], custodial=False
    )
    last = sign_command(mine, [wallet])
    leaves = [merkle.leaf_hash(leaf_bytes(e, r)) for e, r in ((first, OK), (rotation, result))]
    leaves.append(merkle.leaf_hash(leaf_bytes(last, OK)))
    rotated_note = sign_checkpoint(ORIGIN, 2, merkle.root(leaves[:2]), vouched_by)
    note = sign_checkpoint(ORIGIN, 3, merkle.root(leaves), NEW)
    return {
        "format": "localpay-receipt/v1",
        "city": CITY,
        "origin": ORIGIN,
        "operator_key": public_key_hex(OLD),
        "tree_size": 3,
        "checkpoint_height": 2,
        "note": note,
        "witnesses": [],
        "quorum": 0,
        "final": False,
        "transaction": _tx(mine.id, last, OK, 2),
        "leaf_index": 2,
        "leaf_hash": leaves[2].hex(),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(leaves, 2, 3)],
        "operator_rotations": [
            {
                "transaction": _tx(rotate.id, rotation, result, 1),
                "leaf_index": 1,
                "tree_size": 2,
                "note": rotated_note,
                "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(leaves[:2], 1, 2)],
            }
        ],
    }


def operator_status(r: dict[str, Any]) -> tuple[str, str]:
    """(localpay's, the tool's) status of the operator check, the genesis key pinned."""
    ours = next(ch for ch in verify_receipt(r, public_key_hex(OLD)) if ch.name == "operator")
    theirs = next(x for x in TOOL.verify(r, public_key_hex(OLD)) if x[1] == "operator")
    return ours.status, theirs[0]


def test_a_receipt_after_a_rotation_roots_in_the_pinned_genesis_key() -> None:
    assert operator_status(receipt()) == ("ok", "ok")


def reordered() -> dict[str, Any]:
    r = receipt()
    r["operator_rotations"] = r["operator_rotations"] * 2
    return r


def to_the_end() -> dict[str, Any]:
    r = receipt()
    r["operator_rotations"][0]["tree_size"] = 3
    return r


@pytest.mark.parametrize(
    "broken",
    [
        lambda: receipt(old_key=public_key_hex(OTHER)),  # from another key than the pinned
        lambda: receipt(signer=OTHER),  # not signed by the key it replaces
        lambda: receipt(result=b'{"code":"approvals_missing"}'),  # refused on the chain
        lambda: receipt(vouched_by=NEW),  # the new key vouching for itself
        lambda: {**receipt(), "operator_rotations": []},  # the evidence left out
        reordered,  # the same rotation twice
        to_the_end,  # a rotation not before the receipt's checkpoint
    ],
    ids=["old-key", "signer", "refused", "self-vouched", "missing", "twice", "not-before"],
)
def test_a_broken_chain_of_keys_fails_the_operator_check(broken: Any) -> None:
    assert operator_status(broken()) == ("FAIL", "FAIL")


def test_an_edited_rotation_leaf_is_not_in_its_checkpoint() -> None:
    r = copy.deepcopy(receipt())
    r["operator_rotations"][0]["leaf_index"] = 0
    assert operator_status(r) == ("FAIL", "FAIL")


def test_a_malformed_rotation_entry_is_a_format_failure() -> None:
    r = receipt()
    del r["operator_rotations"][0]["note"]
    ours = verify_receipt(r, public_key_hex(OLD))
    theirs = TOOL.verify(r, public_key_hex(OLD))
    assert [(ch.status, ch.name) for ch in ours] == [("FAIL", "format")]
    assert [(x[0], x[1]) for x in theirs] == [("FAIL", "format")]


def test_a_rotation_proved_only_after_the_receipts_checkpoint_does_not_count() -> None:
    # The rotation is leaf 3 of a checkpoint of size 4 the old key signed; the receipt's
    # checkpoint of size 3, signed by the new key, came before it: not the successor yet.
    r = receipt()
    entry = r["operator_rotations"][0]
    rotation = entry["transaction"]
    leaves = [bytes([n]) * 32 for n in range(3)]
    leaves.append(merkle.leaf_hash(leaf_bytes(rotation["envelope"].encode(), OK)))
    late = {
        **entry,
        "transaction": {**rotation, "seq": 3},
        "leaf_index": 3,
        "tree_size": 4,
        "note": sign_checkpoint(ORIGIN, 4, merkle.root(leaves), OLD),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(leaves, 3, 4)],
    }
    assert operator_status({**r, "operator_rotations": [late]}) == ("FAIL", "FAIL")
