"""A city's whole chain as one file, to take to another operator and verify there.

Format (docs/transparency.md, "A city can leave"): gzip'd JSON lines. Line 1 is the
manifest; then each block followed by its transactions, exact stored bytes kept as
strings (they are UTF-8 JSON); then the cosignatures; the last line holds the SHA-256 of
every line before it. The derived state is not in the file: the importer recomputes it
by replaying every block with full validation, so an edited byte cannot get in.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from localpay.ledger.blocks import BlockRecord, TxRecord, decode_header
from localpay.ledger.replay import ChainError, Replayer
from localpay.ledger.store import Store, StoredBlock

FORMAT: Final = "localpay-city-archive"
VERSION: Final = 1
TABLES: Final = ("cosignatures", "tx_parties", "state", "txs", "blocks")


class ArchiveError(ValueError):
    """The archive is unreadable, tampered with, or cannot go into this store."""


def _line(obj: Any) -> bytes:
    return msgspec.json.encode(obj) + b"\n"


def _lines(store: Store, city: str) -> Iterator[bytes]:
    head = store.head(city)
    if head is None:
        raise ArchiveError(f"no city {city!r} in this store")
    header = decode_header(head.header_bytes)
    yield _line(
        {
            "format": FORMAT,
            "version": VERSION,
            "city": city,
            "height": header.height,
            "log_size": header.log_size,
            "log_root": header.log_root,
            "head_hash": head.hash.hex(),
        }
    )
    for block in store.blocks(city):
        yield _line(
            {
                "block": {
                    "height": block.height,
                    "header": block.header_bytes.decode(),
                    "hash": block.hash.hex(),
                    "signature": block.signature.hex(),
                    "checkpoint": block.checkpoint,
                    "frontier": [h.hex() for h in block.frontier],
                }
            }
        )
        for tx in store.block_txs(city, block.height):
            yield _line(
                {
                    "tx": {
                        "seq": tx.seq,
                        "height": tx.height,
                        "id": tx.id,
                        "kind": tx.kind,
                        "envelope": tx.envelope.decode(),
                        "result": tx.result.decode(),
                    }
                }
            )
    for size, key, line, timestamp in store.sql(
        "SELECT size, witness_key, line, timestamp FROM cosignatures WHERE city = ?"
        " ORDER BY size, witness_key",
        (city,),
    ):
        yield _line(
            {
                "cosignature": {
                    "size": size,
                    "witness_key": key,
                    "line": line,
                    "timestamp": timestamp,
                }
            }
        )


def export_city(store: Store, city: str, out: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    count = 0
    with gzip.open(out, "wb") as f:
        for line in _lines(store, city):
            digest.update(line)
            f.write(line)
            count += 1
        f.write(_line({"end": {"lines": count, "sha256": digest.hexdigest()}}))
    return {"city": city, "lines": count, "sha256": digest.hexdigest()}


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as f:
            for raw in f:
                yield msgspec.json.decode(raw)
    except (OSError, EOFError, msgspec.DecodeError) as exc:
        raise ArchiveError(f"{path}: unreadable archive ({exc})") from None


def _check_whole(path: Path) -> dict[str, Any]:
    """First pass: the manifest is ours and the checksum covers every line, in order."""
    digest, count, manifest, end = hashlib.sha256(), 0, None, None
    for item in _read(path):
        if end is not None:
            raise ArchiveError("lines after the end of the archive")
        if "end" in item:
            end = item["end"]
            continue
        manifest = manifest or item
        digest.update(_line(item))
        count += 1
    if manifest is None or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ArchiveError(f"{path} is not a {FORMAT} v{VERSION}")
    if end is None:
        raise ArchiveError("the archive is truncated: no end line")
    if end.get("lines") != count or end.get("sha256") != digest.hexdigest():
        raise ArchiveError("the archive's checksum does not match its content")
    return manifest


def _block(item: dict[str, Any]) -> StoredBlock:
    return StoredBlock(
        item["height"],
        item["header"].encode(),
        bytes.fromhex(item["hash"]),
        bytes.fromhex(item["signature"]),
        item["checkpoint"],
        [bytes.fromhex(h) for h in item["frontier"]],
    )


def _tx(item: dict[str, Any]) -> TxRecord:
    return TxRecord(
        item["seq"],
        item["height"],
        item["id"],
        item["kind"],
        item["envelope"].encode(),
        item["result"].encode(),
    )


def import_city(
    store: Store, path: Path, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Replay the archive into `store` block by block; all or nothing."""
    manifest = _check_whole(path)
    city = str(manifest["city"])
    if city in store.cities():
        raise ArchiveError(f"city {city!r} already exists in the target store")
    replayer = Replayer(city)
    try:
        _replay_into(store, city, path, replayer, progress)
    except (ChainError, ArchiveError, KeyError, TypeError, ValueError) as exc:
        _drop(store, city)
        raise ArchiveError(f"import refused: {exc}") from None
    head = store.head(city)
    assert head is not None
    if head.hash.hex() != manifest["head_hash"]:
        _drop(store, city)
        raise ArchiveError("the chain in the archive ends elsewhere than its manifest says")
    return {
        "city": city,
        "blocks": head.height + 1,
        "txs": replayer.txs_replayed,
        "log_root": manifest["log_root"],
    }


def _replay_into(
    store: Store, city: str, path: Path, replayer: Replayer, progress: Callable[[int], None] | None
) -> None:
    pending: tuple[StoredBlock, list[TxRecord]] | None = None
    for item in _read(path):
        ends_block = "block" in item or "cosignature" in item or "end" in item
        if ends_block and pending is not None:
            _commit(store, city, replayer, *pending)
            if progress:
                progress(pending[0].height)
            pending = None
        if "block" in item:
            pending = (_block(item["block"]), [])
        elif "tx" in item:
            if pending is None:
                raise ArchiveError("a transaction before any block")
            pending[1].append(_tx(item["tx"]))
        elif "cosignature" in item:
            c = item["cosignature"]
            store.sql(
                "INSERT INTO cosignatures (city, size, witness_key, line, timestamp)"
                " VALUES (?, ?, ?, ?, ?)",
                (city, c["size"], c["witness_key"], c["line"], c["timestamp"]),
            )


def _commit(
    store: Store, city: str, replayer: Replayer, block: StoredBlock, txs: list[TxRecord]
) -> None:
    replayer.feed(block, txs)  # full validation before anything is written
    changes = [(key, replayer.state.encode_entity(key)) for key in replayer.touched]
    store.append_block(
        city,
        BlockRecord(
            decode_header(block.header_bytes),
            block.header_bytes,
            block.hash,
            block.signature,
            block.checkpoint,
            block.frontier,
            txs,
            changes,
        ),
    )


def _drop(store: Store, city: str) -> None:
    """Leave no trace of a refused import."""
    store.sql_batch([(f"DELETE FROM {table} WHERE city = ?", (city,)) for table in TABLES])
