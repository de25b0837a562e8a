"""C2SP signed notes, tlog checkpoints and Ed25519 cosignatures.

Specs: https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint,
https://c2sp.org/tlog-cosignature (Ed25519 "cosignature/v1" only). Byte
details follow the specs and the reference Go code
(golang.org/x/mod/sumdb/note, github.com/transparency-dev/formats/note).

Assumptions, where the specs leave room:
- Root hashes are exactly 32 bytes (SHA-256 RFC 6962 trees); other lengths
  are rejected both when formatting and when parsing.
- Tree sizes are capped at 2**64 - 1, as in the Go reference (uint64).
- A note may carry at most 100 signature lines (the spec requires accepting
  at least 16; 100 is the Go reference's limit).
- "Unicode space" in key names is Python's ``str.isspace``; it differs from
  Go's ``unicode.IsSpace`` only on U+001C..U+001F, controls that notes
  forbid anyway.
- Base64 is RFC 4648 §4 standard alphabet with padding, and must be
  canonical (re-encoding gives the same text), so one signature or root has
  exactly one spelling.
- ``cosign`` only signs well-formed checkpoints; ``verify_cosignature``
  checks the signature over whatever body it is given.
- ``open_note`` only parses: duplicate or unknown signatures are returned
  as they are, and it is the caller's policy which keys must verify.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from localpay.domain.errors import Refused

__all__ = [
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "checkpoint_body",
    "cosign",
    "cosignature_key_id",
    "cosigner_verifier_key",
    "key_id",
    "note_text",
    "open_note",
    "parse_checkpoint",
    "sign_note",
    "verifier_key",
    "verify_cosignature",
    "verify_note_signature",
]

# signed-note signature type bytes.
_ALG_ED25519 = b"\x01"
_ALG_COSIGNATURE_V1 = b"\x04"

_SIG_PREFIX = "\u2014 "  # em dash, space
_ROOT_SIZE = 32
_KEY_SIZE = 32
_SEED_SIZE = 32
_ED25519_SIG_SIZE = 64
_KEY_ID_SIZE = 4
_TIMESTAMP = struct.Struct(">Q")
_MAX_TREE_SIZE = 2**64 - 1
_MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: "MUST NOT exceed 2^63 - 1"
_MAX_SIGNATURES = 100
_COSIG_HEADER = "cosignature/v1\n"


class NoteError(Refused, ValueError):
    """A note, checkpoint or key name does not follow the C2SP format."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One parsed signature line.

    ``signature`` is everything after the 4-byte key id: a 64-byte Ed25519
    signature, or for a cosignature the 8-byte timestamp and then that.
    """

    name: str
    key_id: bytes
    signature: bytes


# --- shared checks -------------------------------------------------------------


def _check_chars(text: str, what: str) -> None:
    # signed-note: valid UTF-8, no ASCII control characters except newline.
    # A str can still hold lone surrogates, which have no UTF-8 encoding.
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            raise NoteError(f"{what} contains control character {c!r} at offset {i}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteError(f"{what} is not valid UTF-8 (offset {e.start})") from None


def _check_name(name: str) -> None:
    if not name:
        raise NoteError("key name is empty")
    if "+" in name:
        raise NoteError(f"key name {name!r} contains '+'")
    if any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r} contains a space")
    _check_chars(name, "key name")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise NoteError(f"{what} is empty")
    if "\n" in line:
        raise NoteError(f"{what} contains a newline")
    _check_chars(line, what)


def _check_text(body: str) -> None:
    if not body.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_chars(body, "note text")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise NoteError(f"{what} is not valid base64") from None
    # Non-zero padding bits decode fine but would give one value two spellings.
    if _b64(raw) != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_key(public_key: bytes) -> None:
    if len(public_key) != _KEY_SIZE:
        raise ValueError(f"Ed25519 public key must be {_KEY_SIZE} bytes, got {len(public_key)}")


def _signing_key(seed: bytes) -> SigningKey:
    if len(seed) != _SEED_SIZE:
        raise ValueError(f"Ed25519 seed must be {_SEED_SIZE} bytes, got {len(seed)}")
    return SigningKey(seed)


# --- checkpoints -----------------------------------------------------------------


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The tlog-checkpoint note text: origin, size, base64 root, extensions."""
    _check_line(origin, "checkpoint origin")
    if isinstance(size, bool) or not 0 <= size <= _MAX_TREE_SIZE:
        raise NoteError(f"tree size {size!r} out of range [0, 2^64-1]")
    if len(root) != _ROOT_SIZE:
        raise NoteError(f"root hash must be {_ROOT_SIZE} bytes, got {len(root)}")
    for n, ext in enumerate(extensions, start=1):
        _check_line(ext, f"extension line {n}")
    lines = [origin, str(size), _b64(root), *extensions]
    return "".join(line + "\n" for line in lines)


def _parse_size(line: str) -> int:
    if not line:
        raise NoteError("checkpoint tree size line is empty")
    # isdecimal() would also admit non-ASCII digits such as "١٢".
    if line.strip("0123456789"):
        raise NoteError(f"checkpoint tree size {line!r} is not an ASCII decimal")
    if len(line) > 1 and line[0] == "0":
        raise NoteError(f"checkpoint tree size {line!r} has a leading zero")
    size = int(line)
    if size > _MAX_TREE_SIZE:
        raise NoteError(f"checkpoint tree size {line} exceeds 2^64-1")
    return size


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint note text (no signatures), strictly."""
    _check_text(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(
            f"checkpoint has {len(lines)} line(s), needs origin, tree size and root hash"
        )
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin line is empty")
    size = _parse_size(size_line)
    root = _unb64(root_line, "checkpoint root hash")
    if len(root) != _ROOT_SIZE:
        raise NoteError(f"checkpoint root hash is {len(root)} bytes, expected {_ROOT_SIZE}")
    for n, ext in enumerate(extensions, start=1):
        if not ext:
            raise NoteError(f"checkpoint extension line {n} is empty")
    return Checkpoint(origin, size, root, tuple(extensions))


# --- keys ----------------------------------------------------------------------


def _key_hash(name: str, alg: bytes, public_key: bytes) -> bytes:
    # signed-note: SHA-256(key name || 0x0A || signature type || public key)[:4]
    _check_name(name)
    _check_key(public_key)
    return hashlib.sha256(name.encode() + b"\n" + alg + public_key).digest()[:_KEY_ID_SIZE]


def key_id(name: str, public_key: bytes) -> bytes:
    """4-byte key id of an Ed25519 signed-note key (type 0x01)."""
    return _key_hash(name, _ALG_ED25519, public_key)


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """4-byte key id of an Ed25519 cosignature/v1 key (type 0x04)."""
    return _key_hash(name, _ALG_COSIGNATURE_V1, public_key)


def verifier_key(name: str, public_key: bytes) -> str:
    """signed-note vkey: name+hex(key id)+base64(0x01 || public key)."""
    kid = key_id(name, public_key)
    return f"{name}+{kid.hex()}+{_b64(_ALG_ED25519 + public_key)}"


def cosigner_verifier_key(name: str, public_key: bytes) -> str:
    """tlog-cosignature vkey: as ``verifier_key`` but with type byte 0x04."""
    kid = cosignature_key_id(name, public_key)
    return f"{name}+{kid.hex()}+{_b64(_ALG_COSIGNATURE_V1 + public_key)}"


# --- notes ---------------------------------------------------------------------


def _signature_line(name: str, blob: bytes) -> str:
    return f"{_SIG_PREFIX}{name} {_b64(blob)}\n"


def sign_note(body: str, name: str, signing_key_seed: bytes) -> str:
    """Ed25519 signature line over the note text (its UTF-8 bytes)."""
    _check_text(body)
    sk = _signing_key(signing_key_seed)
    kid = key_id(name, sk.verify_key.encode())
    sig: bytes = sk.sign(body.encode()).signature
    return _signature_line(name, kid + sig)


def note_text(body: str, signature_lines: Sequence[str]) -> str:
    """Assemble a signed note: text, blank line, signature lines."""
    _check_text(body)
    if not signature_lines:
        raise NoteError("a signed note needs at least one signature line")
    for n, line in enumerate(signature_lines, start=1):
        if not line.startswith(_SIG_PREFIX) or not line.endswith("\n") or line.count("\n") != 1:
            raise NoteError(f"signature line {n} is not '\u2014 name signature\\n'")
    return body + "\n" + "".join(signature_lines)


def _parse_signature_line(line: str, n: int) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"signature line {n} does not start with an em dash and a space")
    name, sep, blob64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not blob64:
        raise NoteError(f"signature line {n} has no signature after the key name")
    _check_name(name)
    blob = _unb64(blob64, f"signature line {n}")
    if len(blob) <= _KEY_ID_SIZE:
        raise NoteError(f"signature line {n} is too short to hold a key id and a signature")
    return NoteSignature(name, blob[:_KEY_ID_SIZE], blob[_KEY_ID_SIZE:])


def open_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and parsed (unverified) signatures."""
    _check_chars(text, "note")
    # The text may itself contain blank lines: the last one is the separator.
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    body, sigs = text[: split + 1], text[split + 2 :]
    if not sigs:
        raise NoteError("note has no signature lines")
    if not sigs.endswith("\n"):
        raise NoteError("note does not end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {_MAX_SIGNATURES}")
    return body, [_parse_signature_line(line, n) for n, line in enumerate(lines, start=1)]


def _verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (CryptoError, ValueError, TypeError):
        # BadSignatureError, and nacl's errors for keys that are not points.
        return False
    return True


def verify_note_signature(body: str, sig: NoteSignature, name: str, public_key: bytes) -> bool:
    """True iff ``sig`` is a valid Ed25519 note signature by (name, key). Never raises."""
    try:
        if sig.name != name or sig.key_id != key_id(name, public_key):
            return False
        if len(sig.signature) != _ED25519_SIG_SIZE:
            return False
        return _verify(public_key, body.encode(), sig.signature)
    except (ValueError, TypeError, AttributeError):
        return False  # bad name, key or body: not a valid signature by that key


# --- cosignatures ----------------------------------------------------------------


def _cosigned_message(body: str, timestamp: int) -> bytes:
    # tlog-cosignature: "cosignature/v1\n" "time <decimal, no leading zeroes>\n"
    # followed by the whole checkpoint text, extension lines included.
    return f"{_COSIG_HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, name: str, signing_key_seed: bytes, timestamp: int) -> str:
    """Ed25519 cosignature/v1 signature line for a checkpoint text."""
    parse_checkpoint(body)  # a cosigner vouches for checkpoints, not arbitrary text
    if isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError(f"timestamp {timestamp!r} out of range [0, 2^63-1]")
    sk = _signing_key(signing_key_seed)
    kid = cosignature_key_id(name, sk.verify_key.encode())
    sig: bytes = sk.sign(_cosigned_message(body, timestamp)).signature
    return _signature_line(name, kid + _TIMESTAMP.pack(timestamp) + sig)


def verify_cosignature(body: str, sig: NoteSignature, name: str, public_key: bytes) -> int | None:
    """The cosignature's timestamp if valid for (name, key), else None. Never raises."""
    try:
        if sig.name != name or sig.key_id != cosignature_key_id(name, public_key):
            return None
        if len(sig.signature) != _TIMESTAMP.size + _ED25519_SIG_SIZE:
            return None
        (timestamp,) = _TIMESTAMP.unpack_from(sig.signature)
        if timestamp > _MAX_TIMESTAMP:
            return None
        ed_sig = sig.signature[_TIMESTAMP.size :]
        if not _verify(public_key, _cosigned_message(body, timestamp), ed_sig):
            return None
        return int(timestamp)
    except (ValueError, TypeError, AttributeError):
        return None
