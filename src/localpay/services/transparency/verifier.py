"""The offline verifier of receipts: nothing but the receipt and the keys the caller pins.

`localpay verify-receipt` runs these checks; the standalone `tools/verify_receipt.py`
runs the same ones, in the same order (CHECKS), sharing no code with localpay so that
an auditor can read it whole. Nothing here reads a store or talks to a server.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import nacl.exceptions
import nacl.signing

from localpay.domain.errors import Refused
from localpay.ledger.log import checkpoint, merkle
from localpay.services.transparency.receipts import RECEIPT_FORMAT
from localpay.services.transparency.rotation_proofs import (
    RotationFormatError,
    RotationProof,
    follow_rotations,
    parse_rotations,
)

#: What a command's signatures sign: this prefix, then the command's canonical body.
_COMMAND_PREFIX: Final = b"localpay/command/v1\n"

Status = Literal["ok", "FAIL", "warn"]


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    name: str
    message: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name}: {self.message}"


#: The checks, in the order they are reported (tools/verify_receipt.py reports the same).
CHECKS: Final = (
    "format",
    "transaction",
    "leaf",
    "checkpoint",
    "operator",
    "inclusion",
    "cosignatures",
    "quorum",
)


class _Bad(ValueError):
    pass


class PinError(Refused, ValueError):
    """The pins given cannot decide what they are meant to (a usage error)."""


def check_pins(
    witnesses: Sequence[tuple[str, str]] | None, quorum: int | None, require_final: bool
) -> None:
    """Finality is only what the pinned witnesses and the pinned quorum say: never the
    receipt's own quorum, which is the operator's claim."""
    if witnesses is not None and quorum is None:
        raise PinError("--witness needs --quorum N: the receipt's own quorum is not evidence")
    if quorum is not None and witnesses is None:
        raise PinError("--quorum needs the witness set pinned with --witness NAME=HEX")
    if require_final and witnesses is None:
        raise PinError("--require-final needs the witnesses pinned: --witness NAME=HEX --quorum N")
    if witnesses is not None and quorum is not None and not 1 <= quorum <= len(witnesses):
        raise PinError(f"--quorum {quorum} cannot be met by {len(witnesses)} pinned witness(es)")


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise _Bad(f"{what} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _Bad(f"{what} is not 64 hex digits") from None


def _field(obj: Any, key: str, kind: type | tuple[type, ...], where: str = "receipt") -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _Bad(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{where}.{key} has the wrong type")
    return value


@dataclass
class _Receipt:
    city: str
    origin: str
    operator_key: bytes
    tx_id: str
    seq: int
    envelope: bytes
    result: bytes
    leaf_index: int
    leaf_hash: bytes | None
    tree_size: int
    proof: list[bytes]
    note: str
    witnesses: list[tuple[str, bytes]]
    quorum: int
    final: bool
    rotations: list[RotationProof]


def _parse_receipt(r: Any) -> _Receipt:
    try:
        json.dumps(r, ensure_ascii=False).encode()
    except (TypeError, ValueError):  # UnicodeEncodeError: a lone surrogate (JSON "\ud800")
        raise _Bad("the receipt is not JSON text in UTF-8") from None
    if _field(r, "format", str) != RECEIPT_FORMAT:
        raise _Bad(f"receipt format is not {RECEIPT_FORMAT}")
    tx = _field(r, "transaction", dict)
    proof = _field(r, "inclusion_proof", list)
    witnesses = []
    for n, w in enumerate(_field(r, "witnesses", list)):
        where = f"receipt.witnesses[{n}]"
        witnesses.append(
            (_field(w, "name", str, where), _hex32(_field(w, "key", str, where), where))
        )
    leaf_hash = r.get("leaf_hash")
    return _Receipt(
        city=_field(r, "city", str),
        origin=_field(r, "origin", str),
        operator_key=_hex32(_field(r, "operator_key", str), "receipt.operator_key"),
        tx_id=_field(tx, "id", str, "receipt.transaction"),
        seq=_field(tx, "seq", int, "receipt.transaction"),
        envelope=_field(tx, "envelope", str, "receipt.transaction").encode(),
        result=_field(tx, "result", str, "receipt.transaction").encode(),
        leaf_index=_field(r, "leaf_index", int),
        leaf_hash=None if leaf_hash is None else _hex32(leaf_hash, "receipt.leaf_hash"),
        tree_size=_field(r, "tree_size", int),
        proof=[_hex32(p, f"receipt.inclusion_proof[{n}]") for n, p in enumerate(proof)],
        note=_field(r, "note", str),
        witnesses=witnesses,
        quorum=_field(r, "quorum", int),
        final=_field(r, "final", bool),
        rotations=parse_rotations(r),
    )


def _check_transaction(rc: _Receipt) -> Check:
    """The command's own signatures, its id and city; and the recorded result."""
    head, sep = b'{"body":', b',"sigs":'
    env = rc.envelope
    if not env.startswith(head) or sep not in env:
        return Check("FAIL", "transaction", 'the envelope is not {"body":...,"sigs":[...]}')
    body = env[len(head) : env.rindex(sep)]
    try:
        command = json.loads(body)
        sigs = json.loads(env)["sigs"]
        code = json.loads(rc.result)["code"]
    except (ValueError, KeyError, TypeError):
        return Check("FAIL", "transaction", "the envelope or result is not valid JSON")
    if not isinstance(command, dict) or not isinstance(sigs, list) or not sigs:
        return Check("FAIL", "transaction", "the envelope has no command or no signatures")
    if command.get("id") != rc.tx_id or command.get("city") != rc.city:
        return Check("FAIL", "transaction", "the command's id or city differs from the receipt's")
    if rc.seq != rc.leaf_index:
        return Check("FAIL", "transaction", "the transaction's seq is not the leaf index")
    keys = []
    for s in sigs:
        try:
            nacl.signing.VerifyKey(bytes.fromhex(s["key"])).verify(
                _COMMAND_PREFIX + body, bytes.fromhex(s["sig"])
            )
        except (nacl.exceptions.CryptoError, ValueError, KeyError, TypeError):
            return Check("FAIL", "transaction", "a signature on the command does not verify")
        keys.append(str(s["key"])[:16])
    return Check(
        "ok",
        "transaction",
        f"{command.get('type')} {rc.tx_id}, signed by {len(keys)} key(s)"
        f" ({', '.join(keys)}…), result {code}",
    )


def _check_leaf(rc: _Receipt) -> tuple[Check, bytes]:
    leaf = hashlib.sha256(
        b"\x00" + b'{"result":' + rc.result + b',"tx":' + rc.envelope + b"}"
    ).digest()
    if rc.leaf_hash is not None and rc.leaf_hash != leaf:
        return Check("FAIL", "leaf", "the transaction does not hash to the receipt's leaf"), leaf
    return Check("ok", "leaf", f"leaf {rc.leaf_index} hashes to {leaf.hex()}"), leaf


def _check_checkpoint(rc: _Receipt, point: checkpoint.Checkpoint) -> Check:
    if point.origin != rc.origin or not point.origin.startswith(f"localpay.city/{rc.city}/"):
        return Check("FAIL", "checkpoint", f"origin {point.origin!r} is not {rc.city}'s log")
    if point.size != rc.tree_size or not 0 <= rc.leaf_index < point.size:
        return Check("FAIL", "checkpoint", "tree size does not match the receipt")
    root = binascii.b2a_base64(point.root, newline=False).decode()
    return Check("ok", "checkpoint", f"{point.origin}, size {point.size}, root {root}")


def _check_operator(
    rc: _Receipt,
    body: str,
    sigs: list[checkpoint.NoteSignature],
    pinned: bytes | None,
    allow_unpinned: bool,
) -> Check:
    if pinned is None and not allow_unpinned:
        return Check(
            "FAIL",
            "operator",
            "no operator key pinned: pass --operator-key HEX, the city's key from a source"
            " other than the receipt, or --allow-unpinned to check it against its own keys",
        )
    first = pinned if pinned is not None else rc.operator_key
    key, broken = follow_rotations(rc.city, rc.origin, rc.tree_size, rc.rotations, first)
    if broken is not None:
        return Check("FAIL", "operator", broken)
    if not any(checkpoint.verify_note_signature(body, s, rc.origin, key) for s in sigs):
        return Check("FAIL", "operator", f"no valid signature by {rc.origin} key {key.hex()}")
    source = "the pinned" if pinned is not None else "the receipt's"
    signer = f"the pinned operator key {key.hex()}" if pinned is not None else f"key {key.hex()}"
    if rc.rotations:
        ids = ", ".join(p.tx_id for p in rc.rotations)
        signer = (
            f"key {key.hex()}, reached from {source} operator key {first.hex()} by"
            f" {len(rc.rotations)} rotation(s) ({ids})"
        )
    if pinned is not None:
        return Check("ok", "operator", f"signed by {signer}")
    return Check(
        "ok",
        "operator",
        f"signed by {signer}, SELF-ASSERTED by the receipt:"
        " pin the city's operator key with --operator-key to trust it",
    )


def _check_cosignatures(
    body: str,
    sigs: list[checkpoint.NoteSignature],
    named: list[tuple[str, bytes]],
    pinned: bool,
) -> tuple[Check, int]:
    valid: dict[bytes, str] = {}  # witness key -> name, for each valid cosignature
    bad: list[str] = []
    for s in sigs:
        keys = [k for n, k in named if n == s.name]
        if not keys:
            continue  # the operator's signature, or a signer the receipt does not name
        good = [k for k in keys if checkpoint.verify_cosignature(body, s, s.name, k) is not None]
        if not good:
            bad.append(s.name)
        valid.update(dict.fromkeys(good, s.name))
    if bad:
        message = f"invalid cosignature(s) by {', '.join(sorted(bad))}"
        return Check("FAIL", "cosignatures", message), len(valid)
    who = ", ".join(sorted(valid.values())) or "none"
    source = "pinned" if pinned else "SELF-ASSERTED by the receipt (pin with --witness)"
    message = f"{len(valid)} of {len(named)} witnesses cosigned ({who}); witness keys {source}"
    return Check("ok", "cosignatures", message), len(valid)


def _check_quorum(
    claims_final: bool, valid: int, need: int, require_final: bool, pinned: bool
) -> Check:
    if need >= 1 and valid >= need:
        source = "" if pinned else ", witnesses and quorum SELF-ASSERTED by the receipt"
        return Check("ok", "quorum", f"FINAL: {valid} cosignature(s), quorum {need}{source}")
    if claims_final:
        message = f"the receipt claims final, but {valid} valid cosignature(s), quorum {need}"
        return Check("FAIL", "quorum", message)
    return Check(
        "FAIL" if require_final else "warn",
        "quorum",
        f"NOT FINAL: {valid} valid cosignature(s), quorum {need}; the checkpoint is vouched"
        " for by the operator alone",
    )


_UNPINNED_WITNESSES: Final = (
    "witness keys not pinned: finality NOT CHECKED (pin the city's witnesses with"
    " --witness NAME=HEX and --quorum N)"
)


def verify_receipt(
    receipt: Any,
    operator_key: str | None = None,
    witnesses: Sequence[tuple[str, str]] | None = None,
    quorum: int | None = None,
    require_final: bool = False,
    allow_unpinned: bool = False,
) -> list[Check]:
    """Check a receipt offline; one Check per entry of CHECKS (only `format` if unreadable).

    `operator_key` (hex) pins the operator's key; `witnesses` ((name, hex key) pairs)
    with `quorum` pin the witness set. Strict by default: without an operator key the
    `operator` check fails, and without witnesses finality is not checked (a warning).
    `allow_unpinned` takes the missing keys, and the quorum, from the receipt itself,
    which proves consistency, not who signed: the output says SELF-ASSERTED. Raises
    PinError for pins that cannot decide (witnesses without a quorum, and the like).
    """
    check_pins(witnesses, quorum, require_final)
    try:
        rc = _parse_receipt(receipt)
        pinned_op = None if operator_key is None else _hex32(operator_key, "--operator-key")
        pinned_w = None
        if witnesses is not None:
            pinned_w = [(n, _hex32(k, f"the key of witness {n}")) for n, k in witnesses]
    except (_Bad, RotationFormatError) as exc:
        return [Check("FAIL", "format", str(exc))]
    checks = [Check("ok", "format", f"{RECEIPT_FORMAT}, city {rc.city}, transaction {rc.tx_id}")]
    checks.append(_check_transaction(rc))
    leaf_check, leaf = _check_leaf(rc)
    checks.append(leaf_check)
    try:
        body, sigs = checkpoint.open_note(rc.note)
        point = checkpoint.parse_checkpoint(body)
    except checkpoint.NoteError as exc:
        checks.append(Check("FAIL", "checkpoint", f"unreadable signed note: {exc}"))
        return checks + [Check("FAIL", name, "no readable checkpoint") for name in CHECKS[4:]]
    checks.append(_check_checkpoint(rc, point))
    checks.append(_check_operator(rc, body, sigs, pinned_op, allow_unpinned))
    if merkle.verify_inclusion(leaf, rc.leaf_index, point.size, rc.proof, point.root):
        message = f"leaf {rc.leaf_index} is in the tree of size {point.size}"
        checks.append(Check("ok", "inclusion", message))
    else:
        checks.append(Check("FAIL", "inclusion", "the proof does not lead to the checkpoint root"))
    if pinned_w is None and not allow_unpinned:
        checks.append(Check("warn", "cosignatures", _UNPINNED_WITNESSES))
        checks.append(Check("warn", "quorum", _UNPINNED_WITNESSES))
        return checks
    named = pinned_w if pinned_w is not None else rc.witnesses
    cosigned, valid = _check_cosignatures(body, sigs, named, pinned_w is not None)
    checks.append(cosigned)
    need = rc.quorum if pinned_w is None or quorum is None else quorum
    checks.append(_check_quorum(rc.final, valid, need, require_final, pinned_w is not None))
    return checks
