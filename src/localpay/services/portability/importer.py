"""Import: the replay that takes an archive in, block by verified block.

`import_city` recomputes the state by replaying every block with
`ledger.replay.Replayer` — full validation, so an edited byte stops the import naming
its block and transaction — and writes each verified block with `Store.append_block`,
with the entities that block changed. Afterwards `localpay verify` passes on the target
and its state rows are byte for byte the source's.

An archive may also continue a chain (`first_height` > 0): it then holds only the blocks
from `first_height` on, and imports onto a store whose copy of the city ends exactly
at block `first_height - 1` with the hash the manifest names. That is how a city moves
operators without a freeze: the bulk goes while the old operator keeps running, and
only the last few blocks move while it is stopped.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from localpay.ledger.blocks import GENESIS_PREV, BlockHeader, BlockRecord, TxRecord, decode_header
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store, StoredBlock, StoreError
from localpay.ledger.replay import ChainError, PinMismatch, Pins, Replayer
from localpay.services.cities.officials import CityExists
from localpay.services.portability.archive import (
    ArchiveReader,
    BlockLine,
    CosignatureLine,
    Manifest,
    Progress,
    TxLine,
)
from localpay.services.portability.errors import ImportRefused, PinRefused

#: Verified blocks queued for the writer thread, at most.
WRITE_AHEAD: Final = 4


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

    def run(self, reader: ArchiveReader) -> None:
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

    def finish(self, reader: ArchiveReader) -> None:
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
    reader = ArchiveReader(path)
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
