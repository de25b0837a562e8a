"""Forks: an operator that shows two witnesses two histories.

A witness alone cannot see a fork (the operator shows it one consistent history); two
that compare notes can. Every root a witness signs was signed by the operator first,
so two roots for one size, in two witnesses' records or in a peer's note against the own
log, are the operator's own proof.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import msgspec
import structlog

from localpay.domain.commands import CreateCity
from localpay.ledger.blocks import decode_header
from localpay.ledger.chain import chain_origin, stored_genesis_hash
from localpay.ledger.log import checkpoint
from localpay.ledger.log.merkle_log import MerkleLog
from localpay.ledger.ports import Store
from localpay.ledger.state import Authorities
from localpay.services.witness.alarms import Alarm
from localpay.services.witness.ports import PeerTransport

log = structlog.get_logger("localpay.witness")


def find_forks(signed: Iterable[Mapping[int, str]]) -> dict[int, set[str]]:
    """Sizes for which the given records (of several witnesses) hold more than one root.

    Every root a witness signed was signed by the operator first (the witness checks the
    checkpoint's signature), so two roots for one size are the operator's own proof that
    it showed two histories: a fork."""
    roots: dict[int, set[str]] = {}
    for records in signed:
        for size, root in records.items():
            roots.setdefault(size, set()).add(root)
    return {size: found for size, found in sorted(roots.items()) if len(found) > 1}


def fork_proof(note_a: str, note_b: str, operator_key: str) -> tuple[str, int] | None:
    """(origin, size) if the two checkpoint notes are both validly signed by the operator
    key (hex), for the same log and size, with different roots: proof of a fork."""
    key = bytes.fromhex(operator_key)
    points = []
    for note in (note_a, note_b):
        try:
            body, sigs = checkpoint.open_note(note)
            point = checkpoint.parse_checkpoint(body)
        except checkpoint.NoteError:
            return None
        if not any(checkpoint.verify_note_signature(body, s, point.origin, key) for s in sigs):
            return None
        points.append(point)
    a, b = points
    if (a.origin, a.size) == (b.origin, b.size) and a.root != b.root:
        return a.origin, a.size
    return None


def peer_note(peers: PeerTransport, city: str, peer: str) -> str:
    """A peer's newest co-signed note, "" when it has none or cannot be asked (logged)."""
    status, body = peers.newest_checkpoint(peer)
    if status == 0:
        log.warning("peer_unavailable", city=city, peer=peer, error=body.decode(errors="replace"))
        return ""
    if status != 200:
        return ""
    try:
        return str(json.loads(body)["note"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("peer_unavailable", city=city, peer=peer, error=str(exc))
        return ""


def agrees_with_peer(store: Store, city: str, peer: str, note: str, verified_size: int) -> bool:
    """Whether the peer's operator-signed note matches the own verified log (False: not
    comparable yet, or proves nothing); raise a fork Alarm when it differs."""
    raw = store.state_value(city, "g")
    genesis_hash = stored_genesis_hash(store, city)
    if raw is None or genesis_hash is None:
        return False
    genesis = msgspec.json.decode(raw, type=CreateCity)
    origin = chain_origin(city, genesis_hash)
    try:
        body, sigs = checkpoint.open_note(note)
        point = checkpoint.parse_checkpoint(body)
    except checkpoint.NoteError as exc:
        log.warning("peer_note_unreadable", city=city, peer=peer, error=str(exc))
        return False
    operator = bytes.fromhex(operator_key_at(store, city, genesis, point.size))
    if point.origin != origin or not any(
        checkpoint.verify_note_signature(body, sig, origin, operator) for sig in sigs
    ):
        # Not this city's log, or not signed by its operator: proves nothing.
        log.warning("peer_note_not_the_operators", city=city, peer=peer)
        return False
    if point.size > verified_size or point.size == 0:
        return False  # compared in a later round, once the own copy has reached it
    own = own_root(store, city, point.size)
    if own != point.root:
        raise Alarm(
            "fork",
            f"peer {peer} holds the operator's checkpoint of size {point.size} with root"
            f" {point.root.hex()}; the log this witness verified has root {own.hex()} at"
            f" that size: the operator signed two histories. The peer's note: {note!r}",
        )
    return True


def operator_key_at(store: Store, city: str, genesis: CreateCity, size: int) -> str:
    """The operator key that signs the checkpoint of `size` in the own verified copy: the
    genesis key, or that of the last rotation recorded in a block that ends before it."""
    raw = store.state_value(city, "o")
    key = genesis.operator_key
    for rotation in msgspec.json.decode(raw, type=Authorities).rotations if raw else []:
        tx = store.find_tx(city, rotation.id)
        block = next(iter(store.blocks(city, tx.height, tx.height + 1)), None) if tx else None
        if block is None or decode_header(block.header_bytes).log_size >= size:
            break
        key = rotation.key
    return key


def own_root(store: Store, city: str, size: int) -> bytes:
    """The root of the own verified log at `size`: from the block that ends there, or
    (a size no own block ends at: already a sign of another history) from the leaves."""
    last = list(store.txs(city, size - 1, size))
    if last:
        block = next(iter(store.blocks(city, last[0].height, last[0].height + 1)))
        header = decode_header(block.header_bytes)
        if header.log_size == size:
            return bytes.fromhex(header.log_root)
    return MerkleLog(store.leaf_hashes(city, 0, size)).root(size)
