"""Secrets at rest: sealed under a master key that never lives beside the data.

Every secret the server keeps (key seeds in the key folder, TOTP secrets in the store) is
sealed with AES-256-GCM under the master key. The associated data binds the blob to where
it belongs (a city and key name, a table and principal id), so a blob moved elsewhere
does not open. A sealed blob says in its clear header which master key (version and id)
sealed it, so a rotation can tell old from new, and a wrong key is named, not guessed.

`Sealer` is the seam: an HSM or a KMS implements the same four members; `MasterKey`
is the implementation for one machine. The master key comes from LOCALPAY_MASTER_KEY
(hex or base64 of 32 bytes, optionally `v<N>:` first), or from a file named by
--master-key / LOCALPAY_MASTER_KEY_FILE, or from the default file in the user's
configuration folder. A file inside the data or key folder is refused: a copy of the
data must open nothing. Key material is never logged, printed or put in a message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from localpay.domain.errors import Refused, Unavailable
from localpay.domain.limits import MASTER_KEY_VERSION_MAX

MAGIC: Final = b"lps1"
#: magic, master key version, master key id (a one-way fingerprint: it reveals nothing).
HEADER: Final = struct.Struct(">4sI8s")
NONCE_BYTES: Final = 12
KEY_BYTES: Final = 32
ENV_KEY: Final = "LOCALPAY_MASTER_KEY"
ENV_FILE: Final = "LOCALPAY_MASTER_KEY_FILE"
FILE_LINE: Final = re.compile(r"v([0-9]{1,10}):(\S+)")


class MasterKeyError(Unavailable):
    """The master key is missing, unreadable, refused or not the one the secrets need."""

    code = "master_key"


class MasterKeyMissing(MasterKeyError):
    """No master key was given."""


class MasterKeyMismatch(MasterKeyError):
    """A secret was sealed under another master key than the one given."""


class SealBroken(MasterKeyError):
    """A sealed blob does not open under its own master key: altered, or moved elsewhere."""


class Sealer(Protocol):
    """Seals and opens secrets; `version` and `key_id` name the key it seals under."""

    @property
    def version(self) -> int: ...

    @property
    def key_id(self) -> str: ...

    @property
    def source(self) -> str:
        """Where the key came from, for messages (never the key)."""
        ...

    def seal(self, plaintext: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...


@dataclass(frozen=True)
class Seal:
    """Which master key sealed a blob, read from its clear header."""

    version: int
    key_id: str

    def label(self) -> str:
        return f"v{self.version} ({self.key_id})"


def seal_of(blob: bytes) -> Seal | None:
    """The master key a blob was sealed under, or None if it is not a sealed blob."""
    if len(blob) < HEADER.size + NONCE_BYTES or not blob.startswith(MAGIC):
        return None
    _, version, key_id = HEADER.unpack_from(blob)
    return Seal(version, key_id.hex())


class MasterKey:
    """A 32-byte AES-256-GCM key with its version; `source` says where it came from."""

    def __init__(self, key: bytes, version: int, source: str) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"{source} holds {len(key)} bytes; a master key is 32")
        if not 1 <= version <= MASTER_KEY_VERSION_MAX:
            raise MasterKeyError(f"{source}: a master key version is 1 to {MASTER_KEY_VERSION_MAX}")
        self._aead = AESGCM(key)
        self._version = version
        self._id = hmac.new(key, b"localpay/master-key-id/v1", hashlib.sha256).digest()[:8]
        self._secret = key
        self._source = source

    @classmethod
    def generate(cls, version: int, source: str) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES), version, source)

    @property
    def version(self) -> int:
        return self._version

    @property
    def key_id(self) -> str:
        return self._id.hex()

    @property
    def source(self) -> str:
        return self._source

    def __repr__(self) -> str:  # never the key itself
        return f"MasterKey(v{self._version}, id {self.key_id}, from {self.source})"

    def file_text(self) -> str:
        """The master key file's content: its version and the key (see parse_master_key)."""
        return (
            "# localpay master key: keep it away from the data, the key folder and backups\n"
            f"v{self._version}:{self._secret.hex()}\n"
        )

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        header = HEADER.pack(MAGIC, self._version, self._id)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        """The plaintext; MasterKeyMismatch if another key sealed it, SealBroken if it was
        altered or belongs to another context."""
        seal = seal_of(blob)
        if seal is None:
            raise SealBroken("not a sealed secret")
        if seal.key_id != self.key_id:
            raise MasterKeyMismatch(mismatch("a secret", seal, self))
        header, nonce = blob[: HEADER.size], blob[HEADER.size : HEADER.size + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[HEADER.size + NONCE_BYTES :], header + context)
        except InvalidTag:
            raise SealBroken("a sealed secret was altered or moved from where it belongs") from None


def mismatch(what: str, seal: Seal, key: Sealer) -> str:
    """ "<what> was sealed under master key v2; LOCALPAY_MASTER_KEY holds v1"."""
    ours = Seal(key.version, key.key_id)
    if seal.version != ours.version:
        theirs, held = f"v{seal.version}", f"v{ours.version}"
    else:  # the same version number on two different keys: the ids tell them apart
        theirs, held = seal.label(), ours.label()
    return f"{what} was sealed under master key {theirs}; {key.source} holds {held}"


# -- where the master key comes from ---------------------------------------------------------


def parse_master_key(text: str, source: str) -> MasterKey:
    """`v<N>:<key>` or `<key>` (version 1): the key as 64 hex digits or base64 of 32 bytes.
    Lines starting with # are comments. The error never repeats the text."""
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
    if len(lines) != 1:
        raise MasterKeyError(f"{source} must hold one line: v<version>:<64 hex digits>")
    found = FILE_LINE.fullmatch(lines[0])
    version, encoded = (int(found[1]), found[2]) if found else (1, lines[0])
    return MasterKey(_key_bytes(encoded, source), version, source)


def _key_bytes(encoded: str, source: str) -> bytes:
    if re.fullmatch(r"[0-9a-fA-F]{64}", encoded):
        return bytes.fromhex(encoded)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} is not 64 hex digits or the base64 of 32 bytes")
    return key


def default_master_key_path(env: Mapping[str, str] = os.environ) -> Path:
    """$XDG_CONFIG_HOME/localpay/master.key, else ~/.config/localpay/master.key."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "localpay" / "master.key"


def read_master_key_file(path: Path, forbidden: Iterable[Path] = ()) -> MasterKey:
    """The master key in `path`, refused if it lies inside a forbidden folder (the data,
    the key folder) or others may read it."""
    source = f"the master key file {path}"
    refuse_beside_data(path, forbidden)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MasterKeyError(f"cannot read {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MasterKeyError(f"{source} is not text: v<version>:<64 hex digits>") from None
    if mode & 0o077:
        raise MasterKeyError(f"{source} may be read by others: chmod 600 {path}")
    return parse_master_key(text, source)


def refuse_beside_data(path: Path, forbidden: Iterable[Path]) -> None:
    """Refused: a master key inside the data or key folder would travel with every copy."""
    where = path.resolve()
    for folder in forbidden:
        if where.is_relative_to(folder.resolve()):
            raise Refused(
                f"the master key file {path} is inside {folder}: keep it where a copy of "
                "the data or the key folder does not reach (e.g. ~/.config/localpay)"
            )


def master_key_from_environment(
    file: str | os.PathLike[str] | None = None,
    forbidden: Iterable[Path] = (),
    env: Mapping[str, str] = os.environ,
) -> MasterKey:
    """The master key: `file` (--master-key), else LOCALPAY_MASTER_KEY_FILE, else
    LOCALPAY_MASTER_KEY, else the default file if it exists; MasterKeyMissing if none."""
    chosen = file or env.get(ENV_FILE)
    if chosen:
        return read_master_key_file(Path(chosen), forbidden)
    if env.get(ENV_KEY):
        return parse_master_key(env[ENV_KEY], ENV_KEY)
    default = default_master_key_path(env)
    if default.exists():
        return read_master_key_file(default, forbidden)
    raise MasterKeyMissing(
        f"no master key: set {ENV_KEY} (64 hex digits), or {ENV_FILE} / --master-key to a "
        f"file made by `localpay keys new-master --out FILE` (or create {default})"
    )


def write_master_key_file(path: Path, key: MasterKey, forbidden: Iterable[Path] = ()) -> None:
    """A new master key file, mode 0600 from birth, in a 0700 folder; never overwrites."""
    refuse_beside_data(path, forbidden)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.file_text())
        out.flush()
        os.fsync(out.fileno())
