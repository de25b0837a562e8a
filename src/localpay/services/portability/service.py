"""A city can leave: its chain as one file, and the replay that takes it in elsewhere.

`export_city` writes a self-contained archive of a city's chain: every block (the exact
stored header bytes, hash, signature, checkpoint, frontier), every transaction (exact
envelope and result bytes) and the witnesses' cosignatures. Not the derived state and
no keys: `import_city` recomputes the state by replaying every block with
`ledger.replay.Replayer` — full validation, so an edited byte stops the import naming
its block and transaction — and writes each verified block with `Store.append_block`,
with the entities that block changed. Afterwards `localpay verify` passes on the target
and its state rows are byte for byte the source's.

The format (docs/export.md): a gzip stream of JSON lines. Line 1 is the manifest (format,
version, city, heights, counts, the last block's log size and root, the SHA-256 of the
content); every later line is a block, one of its transactions or one of its
cosignatures, in chain order. The manifest comes first but is written last: the content
goes to a temporary gzip member while its SHA-256 is computed, then the final file is
the manifest's own gzip member followed by the content's compressed bytes (a gzip
stream may hold several members), so both sides run in constant memory.

An archive may also continue a chain (`first_height` > 0): it then holds only the blocks
from `first_height` on, and imports onto a store whose copy of the city ends exactly
at block `first_height - 1` with the hash the manifest names. That is how a city moves
operators without a freeze: the bulk goes while the old operator keeps running, and
only the last few blocks move while it is stopped.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import queue
import shutil
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Final

import msgspec

from localpay.domain.commands import CreateCity, DecodeError, decode_envelope
from localpay.domain.errors import Refused
from localpay.ledger.blocks import GENESIS_PREV, BlockHeader, BlockRecord, TxRecord, decode_header
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store, StoredBlock, StoreError
from localpay.ledger.replay import ChainError, PinMismatch, Pins, Replayer
from localpay.services.cities.officials import CityExists

FORMAT: Final = "localpay-city-export"
VERSION: Final = 1
#: Longest line a reader accepts: an envelope is at most 8 KiB, a frontier 64 hashes.
MAX_LINE: Final = 1 << 20
#: Tables that hold a city's rows, emptied when a whole-chain import is refused.
CITY_TABLES: Final = ("cosignatures", "tx_parties", "state", "txs", "blocks")
#: Verified blocks queued for the writer thread, at most.
WRITE_AHEAD: Final = 4
COMPRESSION: Final = 6  # zlib's default: level 9 is twice as slow for 2% less

Progress = Callable[[int, int], None]
"""Called after each block with (transactions done, transactions in all)."""


class ExportError(Refused, RuntimeError):
    """The export cannot be made; the message says why in one line."""


class ImportRefused(Refused, RuntimeError):
    """The archive is unreadable, altered or does not fit this store; says which and where."""


class PinRefused(ImportRefused):
    """The archive holds another chain than the pinned genesis or operator key."""


# -- the lines of an archive ------------------------------------------------------------------


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

_encoder: Final = msgspec.json.Encoder()
_line_decoder: Final = msgspec.json.Decoder(Line)


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError(f"{what} is not UTF-8 text: the source store is damaged") from None


# -- export --------------------------------------------------------------------------------------


@dataclass
class _Content:
    """The content lines, gzip'd into a file while their SHA-256 and sizes are counted."""

    gz: gzip.GzipFile
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    lines: int = 0
    size: int = 0

    def write(self, items: list[Line]) -> None:
        data = b"".join(_encoder.encode(item) + b"\n" for item in items)
        self.digest.update(data)
        self.gz.write(data)
        self.lines += len(items)
        self.size += len(data)


def _genesis(store: Store, city: str) -> CreateCity:
    txs = list(store.txs(city, 0, 1))  # not block_txs: on SQLite that scans every tx
    try:
        _, command = decode_envelope(txs[0].envelope)
    except (IndexError, DecodeError):
        command = None
    if not isinstance(command, CreateCity):
        raise ExportError(
            f"block 0 of {city!r} does not hold its create_city: the store is damaged"
        )
    return command


def _one_block(store: Store, city: str, height: int) -> StoredBlock:
    found = next(iter(store.blocks(city, height, height + 1)), None)
    if found is None:
        raise ExportError(f"city {city!r} has no block {height}")
    return found


def export_city(
    store: Store,
    city: str,
    out_path: Path,
    *,
    first_height: int = 0,
    last_height: int | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Write blocks first_height..last_height (default: the head now) of `city` to a new
    file. The chain may keep growing meanwhile: blocks never change once written."""
    head = store.head(city)
    if head is None:
        raise ExportError(f"no city {city!r} in this store")
    height = head.height if last_height is None else last_height
    if not 0 <= first_height <= height <= head.height:
        raise ExportError(
            f"blocks {first_height}..{height} are not in the chain of {city!r} (0..{head.height})"
        )
    if out_path.exists():
        raise ExportError(f"{out_path} exists: choose a new file name")
    genesis = _genesis(store, city)
    last = decode_header(_one_block(store, city, height).header_bytes)
    if first_height > 0:
        base = _one_block(store, city, first_height - 1)
        base_hash, base_size = base.hash.hex(), decode_header(base.header_bytes).log_size
    else:
        base_hash, base_size = GENESIS_PREV, 0
    total = last.log_size - base_size
    content_path = out_path.with_name(out_path.name + ".content.partial")
    final_path = out_path.with_name(out_path.name + ".partial")
    try:
        with (
            content_path.open("wb") as raw,
            _gzip_writer(raw) as gz,
        ):
            content = _Content(gz)
            counts = _write_chain(
                store, city, content, first_height, height, base_size, total, progress
            )
        manifest = Manifest(
            format=FORMAT,
            version=VERSION,
            city=city,
            name=genesis.name,
            genesis_id=genesis.id,
            origin=checkpoint.parse_checkpoint(checkpoint.open_note(head.checkpoint)[0]).origin,
            operator_key=genesis.operator_key,
            first_height=first_height,
            base_hash=base_hash,
            base_log_size=base_size,
            height=height,
            blocks=height - first_height + 1,
            txs=counts[0],
            cosignatures=counts[1],
            log_size=last.log_size,
            log_root=last.log_root,
            head_hash=counts[2],
            content_lines=content.lines,
            content_bytes=content.size,
            content_sha256=content.digest.hexdigest(),
            exported_ms=int(time.time() * 1000),
            software=_software(),
        )
        with final_path.open("xb") as f:
            with _gzip_writer(f) as gz:
                gz.write(_encoder.encode(manifest) + b"\n")
            with content_path.open("rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
            f.flush()
            os.fsync(f.fileno())
        _publish(final_path, out_path)
    except FileExistsError:
        raise ExportError(f"{out_path} exists: choose a new file name") from None
    except OSError as exc:
        raise ExportError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    finally:
        content_path.unlink(missing_ok=True)
        final_path.unlink(missing_ok=True)
    return manifest


def _gzip_writer(f: IO[bytes]) -> gzip.GzipFile:
    # No file name and no time in the gzip header: the same chain gives the same bytes.
    return gzip.GzipFile(filename="", mode="wb", compresslevel=COMPRESSION, fileobj=f, mtime=0)


def _publish(done: Path, out_path: Path) -> None:
    """Give the finished file its name, never over a file that appeared meanwhile."""
    try:
        os.link(done, out_path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if out_path.exists():
            raise FileExistsError(out_path) from None
        os.replace(done, out_path)


def _write_chain(
    store: Store,
    city: str,
    content: _Content,
    first: int,
    last: int,
    base_size: int,
    total: int,
    progress: Progress | None,
) -> tuple[int, int, str]:
    """Blocks first..last, each followed by its transactions and its cosignatures;
    (transactions, cosignatures, hash of the last block)."""
    txs = store.txs(city, base_size, base_size + total)
    done = cosigned = 0
    expected, size, head_hash = first, base_size, ""
    for block in store.blocks(city, first, last + 1):
        if block.height != expected:
            raise ExportError(f"block {expected} of {city!r} is missing from the store")
        header = decode_header(block.header_bytes)
        items: list[Line] = [
            BlockLine(
                height=block.height,
                header=_utf8(block.header_bytes, f"the header of block {block.height}"),
                hash=block.hash.hex(),
                signature=block.signature.hex(),
                checkpoint=block.checkpoint,
                frontier=[h.hex() for h in block.frontier],
            )
        ]
        for _ in range(header.tx_count):
            tx = next(txs, None)
            if tx is None or tx.height != block.height:
                raise ExportError(
                    f"block {block.height} of {city!r}: the store holds fewer than its"
                    f" {header.tx_count} transactions"
                )
            where = f"tx {tx.seq} (block {tx.height}, id {tx.id})"
            items.append(
                TxLine(
                    seq=tx.seq,
                    height=tx.height,
                    id=tx.id,
                    kind=tx.kind,
                    envelope=_utf8(tx.envelope, f"the envelope of {where}"),
                    result=_utf8(tx.result, f"the result of {where}"),
                )
            )
        if header.log_size != size:  # one checkpoint per log size: its first block's
            size = header.log_size
            for key, line, timestamp in store.cosignatures(city, size):
                items.append(
                    CosignatureLine(size=size, witness_key=key, line=line, timestamp=timestamp)
                )
                cosigned += 1
        content.write(items)
        done += header.tx_count
        expected, head_hash = block.height + 1, block.hash.hex()
        if progress:
            progress(done, total)
    if expected != last + 1:
        raise ExportError(f"block {expected} of {city!r} is missing from the store")
    return done, cosigned, head_hash


def _software() -> str:
    try:
        return f"localpay {metadata.version('localpay')}"
    except metadata.PackageNotFoundError:
        return "localpay"


# -- reading an archive ---------------------------------------------------------------------------


class _Reader:
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
            raw = self._gz.readline(MAX_LINE + 1)
        except EOFError:
            raise ImportRefused(
                f"the archive is truncated: it ends inside line {self.lines + 2}"
            ) from None
        except (OSError, zlib.error) as exc:
            raise ImportRefused(
                f"the archive is damaged at line {self.lines + 2}: not gzip data ({exc})"
            ) from None
        if raw and not raw.endswith(b"\n"):
            if len(raw) > MAX_LINE:
                raise ImportRefused(f"line {self.lines + 2} is longer than {MAX_LINE} bytes")
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
                yield _line_decoder.decode(raw)
            except msgspec.DecodeError as exc:
                raise ImportRefused(
                    f"line {self.lines + 1} is not an archive line ({exc})"
                ) from None


def read_manifest(path: Path) -> Manifest:
    """The archive's manifest (line 1), unchecked: what it claims to hold."""
    reader = _Reader(path)
    reader.close()
    return reader.manifest


# -- import ----------------------------------------------------------------------------------------


@dataclass
class _Pending:
    block: StoredBlock
    header: BlockHeader
    txs: list[TxRecord] = field(default_factory=list)
    cosignatures: list[CosignatureLine] = field(default_factory=list)


class _Writer:
    """Writes verified blocks on its own thread, so that block N is written (and fsynced)
    while block N+1 is replayed. A failure stops the writes; the next put or close raises it."""

    def __init__(self, store: Store, city: str, written: int) -> None:
        self.store = store
        self.city = city
        self.written = written  # the last block written, -1 before any
        self.error: BaseException | None = None
        self._queue: queue.Queue[tuple[BlockRecord, list[CosignatureLine]] | None]
        self._queue = queue.Queue(WRITE_AHEAD)
        self._thread = threading.Thread(target=self._run, name=f"import-{city}", daemon=True)
        self._thread.start()

    def put(self, record: BlockRecord, cosignatures: list[CosignatureLine]) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._queue.put((record, cosignatures), timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Write what is queued and stop; raise the writer's failure if there was one."""
        if self._thread.is_alive():
            self._queue.put(None)  # the thread drains the queue, even after a failure
            self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # handed over to the importing thread
                    self.error = exc

    def _write(self, record: BlockRecord, cosignatures: list[CosignatureLine]) -> None:
        height = record.header.height
        self.store.append_block(self.city, record)
        self.written = height
        for c in cosignatures:
            if not self.store.add_cosignature(
                self.city, c.size, c.witness_key, c.line, c.timestamp
            ):
                raise ImportRefused(
                    f"block {height}: the target already holds a cosignature of checkpoint"
                    f" size {c.size} by witness key {c.witness_key}"
                )


@dataclass
class _Import:
    """One import in progress: the replay, with the writer behind it."""

    manifest: Manifest
    replayer: Replayer
    writer: _Writer
    progress: Progress | None
    replayed: int = -1  # the last block replayed, -1 before any
    txs: int = 0
    cosignatures: int = 0

    def run(self, reader: _Reader) -> None:
        pending: _Pending | None = None
        for item in reader:
            where = f"line {reader.lines + 1}"
            if isinstance(item, BlockLine):
                if pending is not None:
                    self.commit(pending)
                pending = self.start_block(item, where)
            elif pending is None:
                raise ImportRefused(f"{where}: a {type(item).__name__} before any block")
            elif isinstance(item, TxLine):
                if len(pending.txs) >= pending.header.tx_count:
                    raise ImportRefused(
                        f"{where}: block {pending.header.height} has more transactions than"
                        f" its header's {pending.header.tx_count}"
                    )
                pending.txs.append(
                    TxRecord(
                        item.seq,
                        item.height,
                        item.id,
                        item.kind,
                        item.envelope.encode(),
                        item.result.encode(),
                    )
                )
            else:
                self.check_cosignature(pending, item, where)
                pending.cosignatures.append(item)
        if pending is not None:
            self.commit(pending)
        self.finish(reader)

    def start_block(self, item: BlockLine, where: str) -> _Pending:
        expected = self.replayer.head.height
        if item.height != expected:
            raise ImportRefused(f"{where}: block {item.height} where block {expected} should be")
        if item.height > self.manifest.height:
            raise ImportRefused(
                f"{where}: block {item.height} is beyond the manifest's last block"
                f" {self.manifest.height}"
            )
        try:
            block = StoredBlock(
                item.height,
                item.header.encode(),
                bytes.fromhex(item.hash),
                bytes.fromhex(item.signature),
                item.checkpoint,
                [bytes.fromhex(h) for h in item.frontier],
            )
            header = decode_header(block.header_bytes)
        except (ValueError, msgspec.DecodeError) as exc:
            raise ImportRefused(f"{where}: block {item.height} is malformed ({exc})") from None
        return _Pending(block, header)

    def check_cosignature(self, pending: _Pending, item: CosignatureLine, where: str) -> None:
        """A cosignature must verify over its block's checkpoint with the key it names.
        Whether that key is (still) a witness is judged when it is served, as at the source."""
        height = pending.header.height
        if item.size != pending.header.log_size:
            raise ImportRefused(
                f"{where}: a cosignature of checkpoint size {item.size} after block {height},"
                f" whose checkpoint is size {pending.header.log_size}"
            )
        if any(c.witness_key == item.witness_key for c in pending.cosignatures):
            raise ImportRefused(f"{where}: a second cosignature of block {height} by one key")
        try:
            body, _ = checkpoint.open_note(pending.block.checkpoint)
            _, sigs = checkpoint.open_note(f"{body}\n{item.line}\n")
            key = bytes.fromhex(item.witness_key)
        except (checkpoint.NoteError, ValueError) as exc:
            raise ImportRefused(
                f"{where}: cosignature of block {height} unreadable ({exc})"
            ) from None
        sig = sigs[0]
        if (
            len(sigs) != 1
            or checkpoint.verify_cosignature(body, sig, sig.name, key) != item.timestamp
        ):
            raise ImportRefused(
                f"{where}: the cosignature of block {height} by {sig.name!r} does not verify"
                " over its checkpoint with its key and timestamp"
            )

    def commit(self, pending: _Pending) -> None:
        """Replay the block (every check); then queue it, with the state it changed."""
        height = pending.header.height
        try:
            self.replayer.feed(pending.block, pending.txs)
            # The replay does not read the frontier, but a sequencer resumes from it: a
            # wrong one would make the target's next block disagree with its log.
            self.replayer.check_frontier(pending.block)
        except PinMismatch as exc:
            raise PinRefused(str(exc)) from None
        except ChainError as exc:
            raise ImportRefused(str(exc)) from None
        record = self.replayer.record(pending.block, pending.txs)
        self.writer.put(record, pending.cosignatures)
        self.replayed = height
        self.cosignatures += len(pending.cosignatures)
        self.txs += len(pending.txs)
        if self.progress:
            self.progress(self.txs, self.manifest.txs)

    def finish(self, reader: _Reader) -> None:
        m, head = self.manifest, self.replayer.head
        self.writer.close()
        if self.replayed < m.height:
            ends = f"after block {self.replayed}" if self.replayed >= 0 else "before any block"
            raise ImportRefused(
                f"the archive is truncated: it ends {ends}, the manifest says block {m.height}"
            )
        if (reader.lines, reader.size, reader.digest.hexdigest()) != (
            m.content_lines,
            m.content_bytes,
            m.content_sha256,
        ):
            raise ImportRefused(
                f"the content ({reader.lines} lines, SHA-256 {reader.digest.hexdigest()}) is not"
                f" what the manifest says ({m.content_lines} lines, SHA-256 {m.content_sha256}):"
                " the archive was altered after export"
            )
        if m.first_height == 0 and (m.base_hash, m.base_log_size) != (GENESIS_PREV, 0):
            raise ImportRefused("the manifest gives a whole chain a base block")
        blocks = self.replayed - m.first_height + 1
        claimed = (m.head_hash, m.log_size, m.log_root, m.txs, m.blocks, m.cosignatures)
        found = (
            head.prev,
            head.log.size,
            head.log.root().hex(),
            self.txs,
            blocks,
            self.cosignatures,
        )
        if claimed != found:
            raise ImportRefused(
                "the manifest does not describe the chain it carries:"
                f" head {m.head_hash[:16]}…, log {m.log_size} {m.log_root[:16]}…, {m.txs} txs,"
                f" {m.blocks} blocks, {m.cosignatures} cosignatures claimed;"
                f" replayed head {head.prev[:16]}…, log {head.log.size}"
                f" {head.log.root().hex()[:16]}…, {self.txs} txs, {blocks} blocks,"
                f" {self.cosignatures} cosignatures"
            )
        genesis = self.replayer.state.genesis
        assert genesis is not None
        if (genesis.id, genesis.operator_key, genesis.name, head.origin) != (
            m.genesis_id,
            m.operator_key,
            m.name,
            m.origin,
        ):
            raise ImportRefused("the manifest names another genesis than the chain's")


def _replayer_at_head(store: Store, city: str, pins: Pins) -> Replayer:
    """A replayer positioned after the target's last block, from its stored state (as a
    sequencer recovers): the state there was itself written by a verified replay."""
    try:
        return Replayer.resume(store, city, pins)
    except PinMismatch as exc:
        raise PinRefused(f"this store's copy: {exc}") from None
    except ChainError as exc:
        raise ImportRefused(str(exc)) from None


def _check_claimed_pins(m: Manifest, pins: Pins) -> None:
    """Refuse at once an archive whose manifest names another chain than the pinned one
    (the replay checks the chain itself: a manifest can lie, but not in our favour)."""
    claimed = m.origin.rpartition("/")[2]
    try:
        pins.check(m.city, claimed, m.operator_key)
    except PinMismatch as exc:
        raise PinRefused(f"the manifest: {exc}") from None


def import_city(
    store: Store, path: Path, *, progress: Progress | None = None, pins: Pins | None = None
) -> Manifest:
    """Replay the archive into `store`, writing each block once it is fully verified.

    A whole chain (first_height 0) goes only into a store without the city; refused, it
    leaves no row of the city behind. A continuation goes onto the city's copy that ends
    exactly where it begins; refused midway, the city keeps every block verified before
    the refusal (each block is written whole, with its state). The city's lease is held
    throughout: no sequencer can start on it meanwhile, nor a second import. `pins`
    (genesis hash, operator key) refuse another chain before anything is written."""
    pins = pins or Pins()
    reader = _Reader(path)
    try:
        m = reader.manifest
        _check_claimed_pins(m, pins)
        with store.lease(m.city):
            head = store.head(m.city)
            if m.first_height == 0:
                if head is not None:
                    raise CityExists(
                        f"city {m.city!r} already exists in this store (at block {head.height}):"
                        " a whole chain imports only into a store without it"
                    )
                replayer = Replayer(m.city, pins)
            else:
                _check_base(m, head)
                replayer = _replayer_at_head(store, m.city, pins)
            writer = _Writer(store, m.city, head.height if head else -1)
            try:
                _Import(m, replayer, writer, progress).run(reader)
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    writer.close()  # what is queued was verified: let it land, then stop
                where = _undo(store, m, writer.written)
                if isinstance(exc, ImportRefused | StoreError):
                    raise type(exc)(f"{exc}; {where}") from None
                raise
    finally:
        reader.close()
    return m


def _check_base(m: Manifest, head: StoredBlock | None) -> None:
    if head is None:
        raise ImportRefused(
            f"the archive continues city {m.city!r} from block {m.first_height - 1}, which this"
            " store does not hold: import the whole chain first"
        )
    size = decode_header(head.header_bytes).log_size
    if (head.height, head.hash.hex(), size) != (m.first_height - 1, m.base_hash, m.base_log_size):
        raise ImportRefused(
            f"the archive continues city {m.city!r} from block {m.first_height - 1}"
            f" (hash {m.base_hash[:16]}…), but this store's copy ends at block {head.height}"
            f" (hash {head.hash.hex()[:16]}…)"
        )


def _undo(store: Store, m: Manifest, written: int) -> str:
    """After a refusal: drop a whole-chain import; keep a continuation's verified blocks."""
    if m.first_height > 0:
        return f"the city's chain in this store now ends at block {written}, all verified"
    try:
        store.drop_city(m.city)
    except StoreError as exc:
        return f"and removing the partly imported city failed: {exc}"
    return "nothing was imported"
