"""Receipts, proofs and witnesses' cosignatures: the city's log, checkable by anyone.

`Transparency` keeps one in-memory `MerkleLog` per city: loaded from the store's
transaction rows at start (in a background thread, page by page) and kept current by
a block observer on the sequencers. Every read first makes sure the log covers what
it needs from the store, so a lagging or missing observer costs a query, never a
wrong answer; and every proof's root is compared with the signed checkpoint it is
for, so a store that disagrees with its own checkpoints gives an error, not a proof
that would not verify.

A checkpoint is *final* when at least `quorum` witnesses of the city's current
on-chain witness set (`set_witnesses`) have cosigned it (C2SP tlog-cosignature,
cosignature/v1). A receipt proves a transaction against the latest final checkpoint
that covers it, or else against the checkpoint of the transaction's own block.

The receipt format is receipts.py; verifier.py checks a receipt offline with nothing
but the receipt (and, for real trust, the operator's and witnesses' keys pinned by the
caller), as `localpay verify-receipt` and the standalone `tools/verify_receipt.py` do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from localpay.domain.commands import CreateCity
from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.ledger.blocks import BlockHeader, BlockRecord, TxRecord, decode_header
from localpay.ledger.chain import chain_origin, stored_genesis_hash, tx_leaf_hashes
from localpay.ledger.log import checkpoint
from localpay.ledger.log.merkle_log import LeafSource, MerkleLog
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.results import Result
from localpay.ledger.state import Authorities
from localpay.services.cities.ledgers import Ledgers
from localpay.services.transparency.receipts import receipt_context, receipt_of
from localpay.services.transparency.rotation_proofs import RotationEvidence
from localpay.services.transparency.views import CheckpointView, ConsistencyProof, Signer

#: Leaf hashes read from the store per query while loading or catching up.
LOAD_PAGE: Final = 50_000
#: Candidate sizes fetched per query while looking for the latest final checkpoint.
_FINAL_SCAN: Final = 16
#: Newest blocks kept per city, so the receipt of a command just committed is made from
#: memory (its block, and one checkpoint view per block) instead of store reads.
RECENT_BLOCKS: Final = 32


# -- errors ---------------------------------------------------------------------------------


class CheckpointNotFound(NotFound):
    """No block of the city carries a checkpoint of that tree size."""


class CosignatureError(Refused, ValueError):
    """A submitted cosignature is refused; subclasses say why."""


class MalformedCosignature(CosignatureError):
    """Not one C2SP signature line ('— name base64')."""


class UnknownWitness(CosignatureError):
    """The line's key name and key id are not those of any on-chain witness."""


class InvalidCosignature(CosignatureError):
    """A witness's key, but the signature does not verify over that checkpoint."""


class ProofRangeError(Refused, ValueError):
    """Tree sizes out of range for a proof."""


class LogMismatch(Conflict):
    """The stored transactions do not hash to the stored checkpoint: the store is damaged."""


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cosigned:
    key: str
    name: str
    line: str
    timestamp: int


class _Recent:
    """A block just committed, with what every receipt of its transactions shares."""

    __slots__ = ("block", "by_id", "context")

    def __init__(self, block: BlockRecord) -> None:
        self.block = block
        self.by_id = {tx.id: tx for tx in block.txs}
        self.context: dict[str, Any] | None = None  # Transparency._proved, made once


class _CityLog:
    __slots__ = ("lock", "log", "recent")

    def __init__(self, source: LeafSource | None = None) -> None:
        # Bounded memory: the newest nodes, older ones rebuilt from the store's leaves.
        self.log = MerkleLog(source=source)
        self.lock = threading.Lock()  # held by whoever appends: loader, catch-up, observer
        # height -> the newest blocks; written by the city's committer thread only.
        self.recent: dict[int, _Recent] = {}


class Transparency:
    """Proofs for every city of a store; a block observer for its sequencers."""

    def __init__(self, store: Store, ledgers: Ledgers | None = None, page: int = LOAD_PAGE):
        self.store = store
        self.ledgers = ledgers
        self.page = page
        self._logs: dict[str, _CityLog] = {}
        self._guard = threading.Lock()
        self._closed = threading.Event()
        self._loader: threading.Thread | None = None
        self._origins: dict[str, str] = {}
        self._rotations = RotationEvidence(store, self.log)

    # -- life cycle ------------------------------------------------------------------------

    def start(self, cities: Iterable[str] | None = None, background: bool = True) -> Transparency:
        """Observe the ledgers' blocks, then load each city's log (in a thread by default).

        A read of a city still loading waits for it; other cities answer at once.
        """
        if self.ledgers is not None:
            self.attach(self.ledgers)
        todo = list(self.store.cities() if cities is None else cities)
        for city in todo:
            self._entry(city)  # known from now on, so the observer feeds it once loaded
        if background:
            self._loader = threading.Thread(
                target=self._load_all, args=(todo,), name="transparency-load", daemon=True
            )
            self._loader.start()
        else:
            self._load_all(todo)
        return self

    def _load_all(self, cities: list[str]) -> None:
        for city in cities:
            if self._closed.is_set():
                return
            try:
                self._catch_up(city, self._entry(city))
            except Exception:  # noqa: S112 (a store error: the first read retries and says why)
                continue

    def attach(self, ledgers: Ledgers) -> None:
        """Observe blocks of every sequencer these ledgers run now or start later."""
        if self not in ledgers.observers:
            ledgers.observers.append(self)
        for city in self.store.cities():
            seq = ledgers.running_sequencer(city)
            if seq is not None and self not in seq.observers:
                seq.observers.append(self)

    def close(self) -> None:
        self._closed.set()
        if self.ledgers is not None:
            if self in self.ledgers.observers:
                self.ledgers.observers.remove(self)
            for city in list(self._logs):
                seq = self.ledgers.running_sequencer(city)
                if seq is not None and self in seq.observers:
                    seq.observers.remove(self)
        if self._loader is not None:
            self._loader.join(timeout=30)

    # -- keeping the logs ------------------------------------------------------------------

    def _entry(self, city: str) -> _CityLog:
        with self._guard:
            entry = self._logs.get(city)
            if entry is None:
                entry = self._logs[city] = _CityLog(
                    lambda start, end: self.store.leaf_hashes(city, start, end)
                )
            return entry

    def _catch_up(self, city: str, entry: _CityLog) -> None:
        with entry.lock:
            while not self._closed.is_set():
                start = entry.log.size
                hashes = self.store.leaf_hashes(city, start, start + self.page)
                entry.log.extend(hashes)
                if len(hashes) < self.page:
                    return

    def log(self, city: str, size: int | None = None) -> MerkleLog:
        """The city's log, covering at least `size` leaves (default: all the store has)."""
        entry = self._entry(city)
        if size is None or entry.log.size < size:
            self._catch_up(city, entry)
        if size is not None and entry.log.size < size:
            raise LogMismatch(
                f"city {city!r}: the store holds {entry.log.size} consecutive transactions,"
                f" a checkpoint of size {size} needs more"
            )
        return entry.log

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None:
        """Block observer: append the block's leaves if they extend the log. Never raises;
        never waits (a busy log is caught up by the next read instead)."""
        try:
            entry = self._logs.get(city)
            if entry is None or not block.txs:
                return
            entry.recent[block.header.height] = _Recent(block)
            while len(entry.recent) > RECENT_BLOCKS:
                del entry.recent[next(iter(entry.recent))]
            if not entry.lock.acquire(blocking=False):
                return
            try:
                first = block.txs[0].seq
                size = entry.log.size
                if first <= size < first + len(block.txs):
                    entry.log.extend(tx_leaf_hashes(block.txs[size - first :]))
            finally:
                entry.lock.release()
        except Exception:  # noqa: S110 (an observer must never break the committer)
            pass

    # -- chain facts -------------------------------------------------------------------------

    def _genesis(self, city: str) -> CreateCity:
        raw = self.store.state_value(city, "g")
        if raw is None:
            raise NotFound(f"city {city!r} does not exist in this store")
        return msgspec.json.decode(raw, type=CreateCity)

    def _origin(self, city: str) -> str:
        """The city's log origin, from its genesis hash (a chain's genesis never changes)."""
        found = self._origins.get(city)
        if found is None:
            genesis_hash = stored_genesis_hash(self.store, city)
            if genesis_hash is None:
                raise NotFound(f"city {city!r} does not exist in this store")
            found = self._origins[city] = chain_origin(city, genesis_hash)
        return found

    def authorities(self, city: str) -> Authorities:
        """The city's current on-chain authorities: officials, witnesses (key -> name), quorum."""
        raw = self.store.state_value(city, "o")
        if raw is None:
            raise NotFound(f"city {city!r} does not exist in this store")
        return msgspec.json.decode(raw, type=Authorities)

    def _block(self, city: str, height: int) -> tuple[StoredBlock, BlockHeader]:
        found = list(self.store.blocks(city, height, height + 1))
        if not found:
            raise NotFound(f"block {height} not found in city {city!r}")
        return found[0], decode_header(found[0].header_bytes)

    def checkpoint_block(self, city: str, size: int) -> tuple[StoredBlock, BlockHeader]:
        """The block whose checkpoint has this tree size: the block of transaction size - 1."""
        last = list(self.store.txs(city, size - 1, size)) if size >= 1 else []
        if last:
            block, header = self._block(city, last[0].height)
            if header.log_size == size:
                return block, header
        raise CheckpointNotFound(
            f"city {city!r} has no checkpoint of size {size}: checkpoints are made at the end"
            " of each block (GET .../checkpoints lists them)"
        )

    def cosigned(self, city: str, size: int, body: str, auth: Authorities) -> list[Cosigned]:
        """The stored cosignatures of that checkpoint that verify for a current witness."""
        found = []
        for key, line, timestamp in self.store.cosignatures(city, size):
            name = auth.witnesses.get(key)
            if name is None:
                continue
            try:
                _, sigs = checkpoint.open_note(f"{body}\n{line}\n")
            except checkpoint.NoteError:
                continue
            if checkpoint.verify_cosignature(body, sigs[0], name, bytes.fromhex(key)) is not None:
                found.append(Cosigned(key, name, line, timestamp))
        return found

    def latest_final(self, city: str, auth: Authorities | None = None) -> int | None:
        """Size of the newest checkpoint cosigned by a quorum of the current witnesses."""
        auth = auth or self.authorities(city)
        if auth.quorum < 1 or not auth.witnesses:
            return None
        before: int | None = None
        while True:
            sizes = self.store.cosigned_sizes(
                city, list(auth.witnesses), auth.quorum, before, _FINAL_SCAN
            )
            for size in sizes:
                block, _ = self.checkpoint_block(city, size)
                body = _note_body(block.checkpoint)
                if len(self.cosigned(city, size, body, auth)) >= auth.quorum:
                    return size
            if len(sizes) < _FINAL_SCAN:
                return None
            before = sizes[-1]

    # -- checkpoints -----------------------------------------------------------------------------

    def _view(
        self,
        city: str,
        note: str,
        header: BlockHeader,
        auth: Authorities,
        genesis: CreateCity,
    ) -> CheckpointView:
        """The checkpoint `note` of block `header`, with its valid cosignatures."""
        body = _note_body(note)
        cosigs = self.cosigned(city, header.log_size, body, auth)
        origin = self._origin(city)
        operator_key = self._rotations.key_at(city, header.log_size, auth, genesis.operator_key)
        witnesses = [Signer("witness", c.name, c.key, c.timestamp) for c in cosigs]
        return CheckpointView(
            size=header.log_size,
            height=header.height,
            root=header.log_root,
            note=note + "".join(c.line + "\n" for c in cosigs),
            signers=[Signer("operator", origin, operator_key), *witnesses],
            cosignatures=len(cosigs),
            quorum=auth.quorum,
            final=auth.quorum >= 1 and len(cosigs) >= auth.quorum,
        )

    def checkpoint(self, city: str, size: int) -> CheckpointView:
        genesis = self._genesis(city)
        block, header = self.checkpoint_block(city, size)
        return self._view(city, block.checkpoint, header, self.authorities(city), genesis)

    def checkpoints(
        self, city: str, before_height: int | None = None, limit: int = 50
    ) -> tuple[list[CheckpointView], int | None]:
        """Checkpoints newest first, from the block at `before_height` down; and the next
        height to list from, None at block 0."""
        genesis = self._genesis(city)
        head = self.store.head(city)
        if head is None:
            return [], None
        top = head.height if before_height is None else min(before_height, head.height)
        if top < 0:
            return [], None
        start = max(0, top - limit + 1)
        auth = self.authorities(city)
        items = [
            self._view(city, b.checkpoint, decode_header(b.header_bytes), auth, genesis)
            for b in self.store.blocks(city, start, top + 1)
        ]
        items.reverse()
        return items, (start - 1 if start > 0 else None)

    def add_cosignature(self, city: str, size: int, line: str) -> tuple[CheckpointView, bool]:
        """Check a witness's cosignature line for the checkpoint of `size` and store it.

        Returns the checkpoint (with every cosignature so far) and whether the line was
        new (False: that witness had already cosigned it; the first one stays).
        """
        line = line.removesuffix("\n")
        if not line or "\n" in line:
            raise MalformedCosignature("send exactly one signature line: '— <name> <base64>'")
        genesis = self._genesis(city)
        block, header = self.checkpoint_block(city, size)
        body = _note_body(block.checkpoint)
        try:
            _, sigs = checkpoint.open_note(f"{body}\n{line}\n")
        except checkpoint.NoteError as exc:
            raise MalformedCosignature(f"not a C2SP signature line: {exc}") from None
        sig = sigs[0]
        auth = self.authorities(city)
        named = [key for key, name in auth.witnesses.items() if name == sig.name]
        if not named:
            raise UnknownWitness(
                f"{sig.name!r} is not a witness of {city!r}"
                f" (witnesses: {', '.join(sorted(auth.witnesses.values())) or 'none'})"
            )
        for key in named:
            public = bytes.fromhex(key)
            if sig.key_id == checkpoint.key_id(sig.name, public):
                raise InvalidCosignature(
                    f"{sig.name!r} made a plain signed-note signature (type 0x01);"
                    " witnesses cosign with cosignature/v1 (type 0x04, with a timestamp)"
                )
            if sig.key_id != checkpoint.cosignature_key_id(sig.name, public):
                continue
            timestamp = checkpoint.verify_cosignature(body, sig, sig.name, public)
            if timestamp is None:
                raise InvalidCosignature(
                    f"the cosignature of {sig.name!r} does not verify over the checkpoint of"
                    f" size {size} of {city!r}"
                )
            added = self.store.add_cosignature(city, size, key, line, timestamp)
            return self._view(city, block.checkpoint, header, auth, genesis), added
        raise UnknownWitness(
            f"key id {sig.key_id.hex()} is not the cosignature/v1 key of witness {sig.name!r}"
            f" of {city!r} (its on-chain key is {named[0]})"
        )

    # -- proofs ----------------------------------------------------------------------------------

    def consistency(self, city: str, old: int, new: int) -> ConsistencyProof:
        """RFC 9162 consistency proof between two tree sizes of the city's log."""
        head = self.store.head(city)
        if head is None:
            raise NotFound(f"city {city!r} does not exist in this store")
        size = decode_header(head.header_bytes).log_size
        if not 0 <= old <= new <= size:
            raise ProofRangeError(
                f"need 0 <= old <= new <= {size} (the log's size); got {old}, {new}"
            )
        log = self.log(city, new)
        return ConsistencyProof(old, new, [h.hex() for h in log.consistency_proof(old, new)])

    def receipt(self, city: str, tx_id: str) -> dict[str, Any]:
        """A self-contained, offline-checkable proof that the transaction is in the log."""
        tx = self.store.find_tx(city, tx_id)
        if tx is None:
            raise NotFound(f"transaction {tx_id!r} not found in city {city!r}")
        return self.receipt_for(city, tx)

    def receipt_for(self, city: str, tx: TxRecord) -> dict[str, Any]:
        genesis = self._genesis(city)
        auth = self.authorities(city)
        final = self.latest_final(city, auth)
        if final is not None and final > tx.seq:
            block, header = self.checkpoint_block(city, final)
        else:
            block, header = self._block(city, tx.height)
        view = self._view(city, block.checkpoint, header, auth, genesis)
        return self._receipt(
            city, tx, self._proved(city, block.checkpoint, header, genesis, auth, view)
        )

    def fresh_receipt(self, city: str, tx_id: str, height: int) -> dict[str, Any]:
        """The receipt of a transaction just committed in block `height`, proved against
        that block's checkpoint, which is signed by the operator and not final yet (the
        witnesses co-sign it within seconds; GET .../receipt then proves the transaction
        against the newest final checkpoint). Made from the block in memory when it is
        one of the newest; otherwise as `receipt`."""
        entry = self._entry(city)
        recent = entry.recent.get(height)
        tx = recent.by_id.get(tx_id) if recent is not None else None
        if recent is None or tx is None:
            return self.receipt(city, tx_id)
        if recent.context is None:  # once per block: the rest is shared by its receipts
            block = recent.block
            genesis, auth = self._genesis(city), self.authorities(city)
            view = self._view(city, block.checkpoint, block.header, auth, genesis)
            recent.context = self._proved(city, block.checkpoint, block.header, genesis, auth, view)
        return self._receipt(city, tx, recent.context)

    def _proved(
        self,
        city: str,
        note: str,
        header: BlockHeader,
        genesis: CreateCity,
        auth: Authorities,
        view: CheckpointView,
    ) -> dict[str, Any]:
        """What every receipt proved against the checkpoint `note` of block `header` shares,
        once the log is checked to have that checkpoint's root."""
        size = header.log_size
        point = checkpoint.parse_checkpoint(_note_body(note))
        root = self.log(city, size).root(size)
        if root != point.root or root.hex() != header.log_root:
            raise LogMismatch(
                f"city {city!r}: the stored transactions do not hash to the root of the"
                f" checkpoint of size {size} (block {header.height}); run localpay verify"
            )
        context = receipt_context(
            city, self._origin(city), genesis.operator_key, header, view, auth
        )
        # After rotations the checkpoint's key descends from the genesis key: the evidence.
        if rotations := self._rotations.before(city, size, auth):
            context["operator_rotations"] = rotations
        return context

    def _receipt(self, city: str, tx: TxRecord, proved: dict[str, Any]) -> dict[str, Any]:
        """The receipt of `tx`: its inclusion proof to the checkpoint of `proved`."""
        size = proved["tree_size"]
        return receipt_of(proved, tx, self.log(city, size).inclusion_proof(tx.seq, size))


def _note_body(note: str) -> str:
    body, _ = checkpoint.open_note(note)
    return body
