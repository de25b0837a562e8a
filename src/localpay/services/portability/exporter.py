"""Export: a city's chain, or the blocks from a height on, as one archive file.

`export_city` writes a self-contained archive of a city's chain: every block (the exact
stored header bytes, hash, signature, checkpoint, frontier), every transaction (exact
envelope and result bytes) and the witnesses' cosignatures. Not the derived state and
no keys: the import recomputes the state by replaying every block (importer.py). The
file appears under its name only once it is whole (archive.py says how it is laid out).
"""

from __future__ import annotations

import os
import shutil
import time
from importlib import metadata
from pathlib import Path

from localpay.domain.commands import CreateCity, DecodeError, decode_envelope
from localpay.ledger.blocks import GENESIS_PREV, decode_header
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store, StoredBlock
from localpay.services.portability.archive import (
    FORMAT,
    VERSION,
    BlockLine,
    Content,
    CosignatureLine,
    Line,
    Manifest,
    Progress,
    TxLine,
    encoder,
    gzip_writer,
    utf8,
)
from localpay.services.portability.errors import ExportError


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
            gzip_writer(raw) as gz,
        ):
            content = Content(gz)
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
            with gzip_writer(f) as gz:
                gz.write(encoder.encode(manifest) + b"\n")
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
    content: Content,
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
                header=utf8(block.header_bytes, f"the header of block {block.height}"),
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
                    envelope=utf8(tx.envelope, f"the envelope of {where}"),
                    result=utf8(tx.result, f"the result of {where}"),
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
