#!/usr/bin/env python3
"""Verify a localpay transaction receipt, with nothing but Python and PyNaCl.

    python verify_receipt.py RECEIPT.json --operator-key HEX
                             [--witness NAME=HEX ... --quorum N] [--require-final]
                             [--allow-unpinned]

A receipt (GET /v1/cities/{city}/transactions/{id}/receipt) carries a transaction, the
Merkle inclusion proof of its leaf, and the signed checkpoint (a C2SP signed note) the
proof leads to, with the cosignatures of the city's witnesses. This file checks all of
it on its own, deliberately sharing no code with localpay, so that an auditor can read
every line that decides the answer:

  format        the receipt has every field, of the right type
  transaction   the command's Ed25519 signatures verify; its id and city are the receipt's
  leaf          SHA-256(0x00 || {"result":<result>,"tx":<envelope>}) is the receipt's leaf hash
  checkpoint    the note is a tlog checkpoint of this city's log, of the receipt's tree size
  operator      the checkpoint is signed by the pinned operator key, or by the key the
                chain rotated it to: each `operator_rotations` entry is a rotate_operator
                transaction signed by the key before it, proved (inclusion) in a
                checkpoint that key signed, and taking effect after that checkpoint
  inclusion     the proof leads from the leaf to the checkpoint's root (RFC 9162 2.1.3.2)
  cosignatures  every cosignature line by a pinned witness verifies (C2SP tlog-cosignature v1)
  quorum        at least the pinned `quorum` of pinned witnesses cosigned: the checkpoint is final

Keys that come from the receipt itself are only self-asserted: whoever made the
receipt chose them. So the operator key must be pinned (obtained elsewhere: from the
city), else the `operator` check fails; without pinned witnesses (and their quorum)
finality is not checked. --allow-unpinned takes the missing keys and the quorum from
the receipt, to check that it is consistent, and says SELF-ASSERTED. Exit status: 0 if
no check fails, 1 if one does, 2 for unusable options (--witness without --quorum...).

Specs: RFC 9162 (Merkle proofs), https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint, https://c2sp.org/tlog-cosignature.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from typing import Any

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

FORMAT = "localpay-receipt/v1"
CHECKS = [
    "format",
    "transaction",
    "leaf",
    "checkpoint",
    "operator",
    "inclusion",
    "cosignatures",
    "quorum",
]


#: One signature line of a note: (key name, 4-byte key id, signature bytes).
Signature = tuple[str, bytes, bytes]


class Bad(ValueError):
    """The receipt or an argument is unusable."""


# -- small helpers ------------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ed25519_ok(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise Bad(f"{what} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Bad(f"{what} is not 64 hex digits") from None


def field(obj: Any, key: str, kind: type, where: str = "receipt") -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise Bad(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Bad(f"{where}.{key} has the wrong type")
    return value


def b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding, and canonical (one spelling per value)."""
    raw = base64.b64decode(text, validate=True)  # binascii.Error is a ValueError
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64")
    return raw


# -- the receipt ------------------------------------------------------------------------------


def read_receipt(r: Any) -> dict[str, Any]:
    """The receipt's fields, checked for presence and type; raises Bad."""
    try:
        json.dumps(r, ensure_ascii=False).encode()
    except (TypeError, ValueError):  # UnicodeEncodeError: a lone surrogate (JSON "\ud800")
        raise Bad("the receipt is not JSON text in UTF-8") from None
    if field(r, "format", str) != FORMAT:
        raise Bad(f"receipt format is not {FORMAT}")
    tx = field(r, "transaction", dict)
    witnesses = []
    for n, w in enumerate(field(r, "witnesses", list)):
        where = f"receipt.witnesses[{n}]"
        witnesses.append((field(w, "name", str, where), hex32(field(w, "key", str, where), where)))
    proof = field(r, "inclusion_proof", list)
    leaf_hash = r.get("leaf_hash")
    rotations = [read_rotation(x, n) for n, x in enumerate(r.get("operator_rotations", []))]
    return {
        "city": field(r, "city", str),
        "origin": field(r, "origin", str),
        "operator_key": hex32(field(r, "operator_key", str), "receipt.operator_key"),
        "tx_id": field(tx, "id", str, "receipt.transaction"),
        "seq": field(tx, "seq", int, "receipt.transaction"),
        "envelope": field(tx, "envelope", str, "receipt.transaction").encode(),
        "result": field(tx, "result", str, "receipt.transaction").encode(),
        "leaf_index": field(r, "leaf_index", int),
        "leaf_hash": None if leaf_hash is None else hex32(leaf_hash, "receipt.leaf_hash"),
        "tree_size": field(r, "tree_size", int),
        "proof": [hex32(p, f"receipt.inclusion_proof[{n}]") for n, p in enumerate(proof)],
        "note": field(r, "note", str),
        "witnesses": witnesses,
        "quorum": field(r, "quorum", int),
        "final": field(r, "final", bool),
        "rotations": rotations,
    }


def read_rotation(x: Any, n: int) -> dict[str, Any]:
    """One operator key rotation the receipt's checkpoint comes after; raises Bad."""
    where = f"receipt.operator_rotations[{n}]"
    tx = field(x, "transaction", dict, where)
    proof = field(x, "inclusion_proof", list, where)
    return {
        "tx_id": field(tx, "id", str, f"{where}.transaction"),
        "envelope": field(tx, "envelope", str, f"{where}.transaction").encode(),
        "result": field(tx, "result", str, f"{where}.transaction").encode(),
        "leaf_index": field(x, "leaf_index", int, where),
        "tree_size": field(x, "tree_size", int, where),
        "note": field(x, "note", str, where),
        "proof": [hex32(p, f"{where}.inclusion_proof[{i}]") for i, p in enumerate(proof)],
    }


# -- signed notes and checkpoints (C2SP) ------------------------------------------------------


def open_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines [(name, key id, sig)]."""
    if any(c < " " and c != "\n" for c in note):
        raise ValueError("control character in note")
    split = note.rfind("\n\n")  # the text may hold blank lines: the last one separates
    if split < 0 or not note.endswith("\n"):
        raise ValueError("no blank line before the signatures, or no final newline")
    body, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    if len(lines) > 100:
        raise ValueError("more than 100 signatures")
    signatures = []
    for line in lines:
        if not line.startswith("\u2014 "):  # em dash, space
            raise ValueError("a signature line does not start with an em dash")
        name, _, blob64 = line[2:].partition(" ")
        if not name or "+" in name or any(c.isspace() for c in name) or not blob64:
            raise ValueError("a signature line has no key name or no signature")
        blob = b64decode_strict(blob64)
        if len(blob) <= 4:
            raise ValueError("a signature is too short")
        signatures.append((name, blob[:4], blob[4:]))
    return body, signatures


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) from a tlog-checkpoint text."""
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise ValueError("a checkpoint needs origin, tree size and root lines")
    origin, size_line, root_line = lines[:3]
    if not size_line.isascii() or not size_line.isdigit() or size_line != str(int(size_line)):
        raise ValueError("the tree size is not a decimal without leading zeros")
    if int(size_line) >= 2**64 or not all(lines[3:]):
        raise ValueError("the tree size is too large, or an extension line is empty")
    root = b64decode_strict(root_line)
    if len(root) != 32:
        raise ValueError("the root hash is not 32 bytes")
    return origin, int(size_line), root


def key_id(name: str, type_byte: bytes, public_key: bytes) -> bytes:
    """signed-note key id: SHA-256(name || 0x0A || type || public key)[:4]."""
    return sha256(name.encode() + b"\n" + type_byte + public_key)[:4]


def note_signature_ok(body: str, signature: Signature, name: str, public_key: bytes) -> bool:
    """An Ed25519 signed-note signature (type 0x01) over the note text."""
    sig_name, kid, sig = signature
    return (
        sig_name == name
        and kid == key_id(name, b"\x01", public_key)
        and len(sig) == 64
        and ed25519_ok(public_key, body.encode(), sig)
    )


def cosignature_ok(body: str, signature: Signature, name: str, public_key: bytes) -> bool:
    """A tlog-cosignature/v1 (type 0x04): 8-byte big-endian timestamp, then Ed25519 over
    'cosignature/v1\\ntime <timestamp>\\n' followed by the checkpoint text."""
    sig_name, kid, blob = signature
    if sig_name != name or kid != key_id(name, b"\x04", public_key) or len(blob) != 72:
        return False
    timestamp = int.from_bytes(blob[:8], "big")
    if timestamp >= 2**63:
        return False
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    return ed25519_ok(public_key, message, blob[8:])


# -- Merkle inclusion (RFC 9162 2.1.3.2) ------------------------------------------------------


def inclusion_ok(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# -- the checks -------------------------------------------------------------------------------


def check_transaction(rc: dict[str, Any]) -> tuple[str, str]:
    env = rc["envelope"]
    head, sep = b'{"body":', b',"sigs":'
    if not env.startswith(head) or sep not in env:
        return "FAIL", 'the envelope is not {"body":...,"sigs":[...]}'
    body = env[len(head) : env.rindex(sep)]  # the exact bytes that were signed
    try:
        command = json.loads(body)
        sigs = json.loads(env)["sigs"]
        code = json.loads(rc["result"])["code"]
    except (ValueError, KeyError, TypeError):
        return "FAIL", "the envelope or result is not valid JSON"
    if not isinstance(command, dict) or not isinstance(sigs, list) or not sigs:
        return "FAIL", "the envelope has no command or no signatures"
    if command.get("id") != rc["tx_id"] or command.get("city") != rc["city"]:
        return "FAIL", "the command's id or city differs from the receipt's"
    if rc["seq"] != rc["leaf_index"]:
        return "FAIL", "the transaction's seq is not the leaf index"
    for s in sigs:
        try:
            key, sig = bytes.fromhex(s["key"]), bytes.fromhex(s["sig"])
        except (ValueError, KeyError, TypeError):
            return "FAIL", "a signature on the command does not verify"
        if not ed25519_ok(key, b"localpay/command/v1\n" + body, sig):
            return "FAIL", "a signature on the command does not verify"
    keys = ", ".join(str(s["key"])[:16] for s in sigs)
    return "ok", (
        f"{command.get('type')} {rc['tx_id']}, signed by {len(sigs)} key(s) ({keys}…),"
        f" result {code}"
    )


def check_checkpoint(rc: dict[str, Any], origin: str, size: int, root: bytes) -> tuple[str, str]:
    if origin != rc["origin"] or not origin.startswith(f"localpay.city/{rc['city']}/"):
        return "FAIL", f"origin {origin!r} is not {rc['city']}'s log"
    if size != rc["tree_size"] or not 0 <= rc["leaf_index"] < size:
        return "FAIL", "tree size does not match the receipt"
    return "ok", f"{origin}, size {size}, root {binascii.b2a_base64(root, newline=False).decode()}"


def check_pins(
    witnesses: list[tuple[str, str]] | None, quorum: int | None, require_final: bool
) -> None:
    """Finality is what the pinned witnesses and quorum say, never the receipt's own quorum."""
    if witnesses is not None and quorum is None:
        raise Bad("--witness needs --quorum N: the receipt's own quorum is not evidence")
    if quorum is not None and witnesses is None:
        raise Bad("--quorum needs the witness set pinned with --witness NAME=HEX")
    if require_final and witnesses is None:
        raise Bad("--require-final needs the witnesses pinned: --witness NAME=HEX --quorum N")
    if witnesses is not None and quorum is not None and not 1 <= quorum <= len(witnesses):
        raise Bad(f"--quorum {quorum} cannot be met by {len(witnesses)} pinned witness(es)")


def rotation_fault(rc: dict[str, Any], x: dict[str, Any], key: bytes, after: int) -> str | None:
    """Why rotation `x` does not hand the operator key on from `key` (None: it does). It
    must be a rotate_operator from `key` that the chain accepted, in a checkpoint `key`
    signed, later than the previous rotation's and earlier than the receipt's."""
    try:
        note_body, signatures = open_note(x["note"])
        origin, size, root = parse_checkpoint(note_body)
    except ValueError as exc:
        return f"unreadable signed note: {exc}"
    if origin != rc["origin"] or size != x["tree_size"] or not after < size < rc["tree_size"]:
        return "its checkpoint is not of this log, or out of order"
    if not any(note_signature_ok(note_body, s, origin, key) for s in signatures):
        return f"its checkpoint is not signed by the key it rotates from, {key.hex()}"
    leaf = sha256(b'\x00{"result":' + x["result"] + b',"tx":' + x["envelope"] + b"}")
    if not inclusion_ok(leaf, x["leaf_index"], size, x["proof"], root):
        return "the proof does not lead to its checkpoint's root"
    env, head, sep = x["envelope"], b'{"body":', b',"sigs":'
    try:
        signed = env[len(head) : env.rindex(sep)]
        command, sigs = json.loads(signed), json.loads(env)["sigs"]
        code = json.loads(x["result"])["code"]
        by_old = [bytes.fromhex(s["sig"]) for s in sigs if s["key"] == key.hex()]
    except (ValueError, KeyError, TypeError):
        return "its envelope or result is not valid JSON"
    if not env.startswith(head) or not isinstance(command, dict) or code != "ok":
        return "not an accepted command"
    if (command.get("type"), command.get("city"), command.get("id")) != (
        "rotate_operator",
        rc["city"],
        x["tx_id"],
    ):
        return "not this city's rotate_operator"
    if command.get("old_key") != key.hex():
        return f"it rotates from {command.get('old_key')}, not from {key.hex()}"
    try:
        hex32(command.get("new_key"), "new_key")
    except Bad:
        return "its new_key is not 64 hex digits"
    message = b"localpay/command/v1\n" + signed
    if not any(ed25519_ok(key, message, sig) for sig in by_old):
        return "it is not signed by the key it rotates from"
    return None


def follow_rotations(rc: dict[str, Any], key: bytes) -> tuple[bytes, str | None]:
    """The key the receipt's checkpoint must be signed by, from `key` through every
    rotation; and why a rotation breaks the chain (None: none does)."""
    after = -1
    for n, x in enumerate(rc["rotations"]):
        fault = rotation_fault(rc, x, key, after)
        if fault is not None:
            return key, f"operator key rotation #{n} (tx {x['tx_id']}): {fault}"
        key, after = bytes.fromhex(json.loads(x["envelope"])["body"]["new_key"]), x["tree_size"]
    return key, None


def check_operator(
    rc: dict[str, Any],
    body: str,
    signatures: list[Signature],
    pinned: bytes | None,
    allow_unpinned: bool,
) -> tuple[str, str]:
    if pinned is None and not allow_unpinned:
        return "FAIL", (
            "no operator key pinned: pass --operator-key HEX, the city's key from a source"
            " other than the receipt, or --allow-unpinned to check it against its own keys"
        )
    first = pinned if pinned is not None else rc["operator_key"]
    key, fault = follow_rotations(rc, first)
    if fault is not None:
        return "FAIL", fault
    if not any(note_signature_ok(body, s, rc["origin"], key) for s in signatures):
        return "FAIL", f"no valid signature by {rc['origin']} key {key.hex()}"
    source = "the pinned" if pinned is not None else "the receipt's"
    if not rc["rotations"]:
        signer = (
            f"the pinned operator key {key.hex()}" if pinned is not None else f"key {key.hex()}"
        )
    else:
        ids = ", ".join(x["tx_id"] for x in rc["rotations"])
        signer = (
            f"key {key.hex()}, reached from {source} operator key {first.hex()} by"
            f" {len(rc['rotations'])} rotation(s) ({ids})"
        )
    if pinned is not None:
        return "ok", f"signed by {signer}"
    return "ok", (
        f"signed by {signer}, SELF-ASSERTED by the receipt:"
        " pin the city's operator key with --operator-key to trust it"
    )


def check_cosignatures(
    body: str, signatures: list[Signature], named: list[tuple[str, bytes]], pinned: bool
) -> tuple[str, str, int]:
    """(status, message, how many witnesses validly cosigned)."""
    valid = {}  # witness key -> name, for each valid cosignature
    bad = []
    for s in signatures:
        keys = [k for n, k in named if n == s[0]]
        if not keys:
            continue  # the operator's signature, or a signer the receipt does not name
        good = [k for k in keys if cosignature_ok(body, s, s[0], k)]
        if not good:
            bad.append(s[0])
        valid.update(dict.fromkeys(good, s[0]))
    if bad:
        return "FAIL", f"invalid cosignature(s) by {', '.join(sorted(bad))}", len(valid)
    who = ", ".join(sorted(valid.values())) or "none"
    source = "pinned" if pinned else "SELF-ASSERTED by the receipt (pin with --witness)"
    message = f"{len(valid)} of {len(named)} witnesses cosigned ({who}); witness keys {source}"
    return "ok", message, len(valid)


def check_quorum(
    claims_final: bool, valid: int, need: int, require_final: bool, pinned: bool
) -> tuple[str, str]:
    if need >= 1 and valid >= need:
        source = "" if pinned else ", witnesses and quorum SELF-ASSERTED by the receipt"
        return "ok", f"FINAL: {valid} cosignature(s), quorum {need}{source}"
    if claims_final:
        return "FAIL", f"the receipt claims final, but {valid} valid cosignature(s), quorum {need}"
    return "FAIL" if require_final else "warn", (
        f"NOT FINAL: {valid} valid cosignature(s), quorum {need}; the checkpoint is vouched"
        " for by the operator alone"
    )


UNPINNED_WITNESSES = (
    "witness keys not pinned: finality NOT CHECKED (pin the city's witnesses with"
    " --witness NAME=HEX and --quorum N)"
)


def verify(
    receipt: Any,
    operator_key: str | None = None,
    witnesses: list[tuple[str, str]] | None = None,
    quorum: int | None = None,
    require_final: bool = False,
    allow_unpinned: bool = False,
) -> list[tuple[str, str, str]]:
    """[(status, check, message)], status one of ok, FAIL, warn. Raises Bad for pins that
    cannot decide (see check_pins)."""
    check_pins(witnesses, quorum, require_final)
    try:
        rc = read_receipt(receipt)
        pinned_op = None if operator_key is None else hex32(operator_key, "--operator-key")
        pinned_w = None
        if witnesses is not None:
            pinned_w = [(n, hex32(k, f"the key of witness {n}")) for n, k in witnesses]
    except Bad as exc:
        return [("FAIL", "format", str(exc))]
    out = [("format", "ok", f"{FORMAT}, city {rc['city']}, transaction {rc['tx_id']}")]
    out.append(("transaction", *check_transaction(rc)))

    leaf = sha256(b'\x00{"result":' + rc["result"] + b',"tx":' + rc["envelope"] + b"}")
    if rc["leaf_hash"] is not None and rc["leaf_hash"] != leaf:
        out.append(("leaf", "FAIL", "the transaction does not hash to the receipt's leaf"))
    else:
        out.append(("leaf", "ok", f"leaf {rc['leaf_index']} hashes to {leaf.hex()}"))

    try:
        body, signatures = open_note(rc["note"])
        origin, size, root = parse_checkpoint(body)
    except ValueError as exc:
        out.append(("checkpoint", "FAIL", f"unreadable signed note: {exc}"))
        out += [(name, "FAIL", "no readable checkpoint") for name in CHECKS[4:]]
    else:
        out.append(("checkpoint", *check_checkpoint(rc, origin, size, root)))
        out.append(("operator", *check_operator(rc, body, signatures, pinned_op, allow_unpinned)))
        if inclusion_ok(leaf, rc["leaf_index"], size, rc["proof"], root):
            out.append(
                ("inclusion", "ok", f"leaf {rc['leaf_index']} is in the tree of size {size}")
            )
        else:
            out.append(("inclusion", "FAIL", "the proof does not lead to the checkpoint root"))
        if pinned_w is None and not allow_unpinned:
            out.append(("cosignatures", "warn", UNPINNED_WITNESSES))
            out.append(("quorum", "warn", UNPINNED_WITNESSES))
        else:
            named = pinned_w if pinned_w is not None else rc["witnesses"]
            pinned = pinned_w is not None
            status, message, valid = check_cosignatures(body, signatures, named, pinned)
            out.append(("cosignatures", status, message))
            need = rc["quorum"] if pinned_w is None or quorum is None else quorum
            claim = check_quorum(rc["final"], valid, need, require_final, pinned)
            out.append(("quorum", *claim))
    return [(status, name, message) for name, status, message in out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a localpay receipt offline.")
    parser.add_argument("receipt", help="the receipt JSON file")
    parser.add_argument(
        "--operator-key", help="the city's operator public key (hex), required unless unpinned"
    )
    parser.add_argument(
        "--witness", action="append", metavar="NAME=HEX", help="pin a witness (repeat)"
    )
    parser.add_argument("--quorum", type=int, help="cosignatures of pinned witnesses needed")
    parser.add_argument("--require-final", action="store_true", help="fail unless final")
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="take unpinned keys and the quorum from the receipt (SELF-ASSERTED)",
    )
    args = parser.parse_args(argv)
    witnesses = None
    if args.witness:
        witnesses = []
        for spec in args.witness:
            name, sep, key = spec.partition("=")
            if not sep or not name or not key:
                parser.error(f"--witness takes NAME=HEX, got {spec!r}")
            witnesses.append((name, key.lower()))
    if args.quorum is not None and args.quorum < 1:
        parser.error("--quorum must be at least 1")
    try:
        check_pins(witnesses, args.quorum, args.require_final)
    except Bad as exc:
        parser.error(str(exc))
    try:
        with open(args.receipt, "rb") as f:
            data = f.read()
    except OSError as exc:
        print(f"error: cannot read {args.receipt}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        receipt = json.loads(data)
    except ValueError as exc:
        print(f"FAIL format: {args.receipt} is not JSON ({exc})")
        return 1
    results = verify(
        receipt,
        args.operator_key,
        witnesses,
        args.quorum,
        args.require_final,
        args.allow_unpinned,
    )
    for status, name, message in results:
        print(f"{status:<4} {name}: {message}")
    return 1 if any(status == "FAIL" for status, _, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
