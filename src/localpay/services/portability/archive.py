"""The archive format of a city's chain: its lines, and their writing and reading.

The format (docs/export.md): a gzip stream of JSON lines. Line 1 is the manifest (format,
version, city, heights, counts, the last block's log size and root, the SHA-256 of the
content); every later line is a block, one of its transactions or one of its
cosignatures, in chain order. The manifest comes first but is written last: the content
goes to a temporary gzip member while its SHA-256 is computed, then the final file is
the manifest's own gzip member followed by the content's compressed bytes (a gzip
stream may hold several members), so both sides run in constant memory.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import msgspec

from localpay.domain.limits import ARCHIVE_LINE_BYTES_MAX
from localpay.services.portability.errors import ExportError, ImportRefused

FORMAT: Final = "localpay-city-export"
VERSION: Final = 1
COMPRESSION: Final = 6  # zlib's default: level 9 is twice as slow for 2% less

Progress = Callable[[int, int], None]
"""Called after each block with (transactions done, transactions in all)."""


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Line 1: what the archive holds. Every field is checked against the replay."""

    format: str
    version: int
    city: str
    name: str  # the city's display name, from its genesis
    genesis_id: str  # the create_city command's id
    origin: str  # the checkpoint origin line of the city's log
    operator_key: str  # hex Ed25519 key that signs the blocks, from the genesis
    first_height: int  # 0: the whole chain; > 0: continues from block first_height - 1
    base_hash: str  # hash of block first_height - 1; 64 zeros when first_height is 0
    base_log_size: int  # log size after block first_height - 1; 0 when first_height is 0
    height: int  # the last block in the archive
    blocks: int
    txs: int  # transactions in the archive
    cosignatures: int
    log_size: int  # of the last block
    log_root: str  # of the last block
    head_hash: str  # hash of the last block
    content_lines: int  # lines after the manifest
    content_bytes: int  # their uncompressed size, newlines included
    content_sha256: str  # SHA-256 of those bytes
    exported_ms: int
    software: str


class BlockLine(msgspec.Struct, tag="block", tag_field="t", forbid_unknown_fields=True):
    height: int
    header: str  # the stored header bytes, UTF-8: what is hashed and signed
    hash: str
    signature: str
    checkpoint: str
    frontier: list[str]


class TxLine(msgspec.Struct, tag="tx", tag_field="t", forbid_unknown_fields=True):
    seq: int
    height: int
    id: str
    kind: str
    envelope: str  # the stored envelope bytes, UTF-8
    result: str  # the stored result bytes, UTF-8


class CosignatureLine(msgspec.Struct, tag="cosignature", tag_field="t", forbid_unknown_fields=True):
    size: int  # the checkpoint's tree size: the log size of the block just before
    witness_key: str
    line: str  # the C2SP cosignature line, without its newline
    timestamp: int


Line = BlockLine | TxLine | CosignatureLine

#: One encoder and decoder for every line (msgspec reuses their buffers).
encoder: Final = msgspec.json.Encoder()
line_decoder: Final = msgspec.json.Decoder(Line)


def utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError(f"{what} is not UTF-8 text: the source store is damaged") from None


@dataclass
class Content:
    """The content lines, gzip'd into a file while their SHA-256 and sizes are counted."""

    gz: gzip.GzipFile
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    lines: int = 0
    size: int = 0

    def write(self, items: list[Line]) -> None:
        data = b"".join(encoder.encode(item) + b"\n" for item in items)
        self.digest.update(data)
        self.gz.write(data)
        self.lines += len(items)
        self.size += len(data)


def gzip_writer(f: IO[bytes]) -> gzip.GzipFile:
    # No file name and no time in the gzip header: the same chain gives the same bytes.
    return gzip.GzipFile(filename="", mode="wb", compresslevel=COMPRESSION, fileobj=f, mtime=0)


class ArchiveReader:
    """The archive's lines in order, with the content's SHA-256 and sizes counted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._gz = gzip.open(path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise ImportRefused(f"cannot open {path}: {exc.strerror or exc}") from None
        self.digest = hashlib.sha256()
        self.lines = 0  # content lines read
        self.size = 0
        try:
            self.manifest = self._manifest()
        except BaseException:
            self._gz.close()
            raise

    def close(self) -> None:
        self._gz.close()

    def _readline(self) -> bytes:
        try:
            raw = self._gz.readline(ARCHIVE_LINE_BYTES_MAX + 1)
        except EOFError:
            raise ImportRefused(
                f"the archive is truncated: it ends inside line {self.lines + 2}"
            ) from None
        except (OSError, zlib.error) as exc:
            raise ImportRefused(
                f"the archive is damaged at line {self.lines + 2}: not gzip data ({exc})"
            ) from None
        if raw and not raw.endswith(b"\n"):
            if len(raw) > ARCHIVE_LINE_BYTES_MAX:
                raise ImportRefused(
                    f"line {self.lines + 2} is longer than {ARCHIVE_LINE_BYTES_MAX} bytes"
                )
            raise ImportRefused(f"the archive is truncated: line {self.lines + 2} is cut short")
        return raw

    def _manifest(self) -> Manifest:
        raw = self._readline()
        try:
            head = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            head = None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise ImportRefused(f"{self.path} is not a {FORMAT} archive (no manifest on line 1)")
        if head.get("version") != VERSION:
            raise ImportRefused(
                f"archive format version {head.get('version')!r}: this localpay reads"
                f" version {VERSION} only"
            )
        try:
            return msgspec.convert(head, Manifest)
        except msgspec.ValidationError as exc:
            raise ImportRefused(f"the manifest is malformed: {exc}") from None

    def __iter__(self) -> Iterator[Line]:
        while raw := self._readline():
            self.digest.update(raw)
            self.lines += 1
            self.size += len(raw)
            try:
                yield line_decoder.decode(raw)
            except msgspec.DecodeError as exc:
                raise ImportRefused(
                    f"line {self.lines + 1} is not an archive line ({exc})"
                ) from None


def read_manifest(path: Path) -> Manifest:
    """The archive's manifest (line 1), unchecked: what it claims to hold."""
    reader = ArchiveReader(path)
    reader.close()
    return reader.manifest
