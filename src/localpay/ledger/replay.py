"""Independent replay of a city's chain: the one check behind `localpay verify`, `import`
and every witness.

Replays every block from genesis into a fresh state, re-checking everything the
sequencer made sure of when it sealed the block, and everything the seal itself
claims: the block's height and its link to the previous block, the header's hash,
the operator's block signature, each command's city, signatures, id (once), place in
the log and recorded result (re-executed), the Merkle roots, and the checkpoint (its
exact contents and the operator's signature under the log's origin). The first block
that disagrees stops the replay and is named with its transaction; the final state is
then compared with the stored one.

A chain names no trust anchor of its own: its genesis says who the operator is. So a
caller that knows which chain it expects pins it (`Pins`): the genesis hash (SHA-256 of
the stored create_city envelope, the last part of the log's origin) and the operator
key. A chain with another genesis is refused with `PinMismatch` at block 0.

The pinned operator key is the genesis key for the life of the chain: after a
rotate_operator the replay expects the new key from the next block on
(ledger/rotation.py), and names a retired key that signed a later block or checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Self

import msgspec
import nacl.exceptions
import nacl.signing

from localpay.domain.codes import Code
from localpay.domain.commands import (
    Command,
    CreateCity,
    DecodeError,
    Envelope,
    command_type,
    decode_envelope,
)
from localpay.domain.errors import Conflict
from localpay.ledger import machine, rotation
from localpay.ledger.blocks import (
    BlockHeader,
    BlockRecord,
    TxRecord,
    encode_result,
    header_hash,
)
from localpay.ledger.chain import ChainHead, chain_origin, genesis_hash_of, stored_genesis_hash
from localpay.ledger.log import checkpoint, merkle
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.signatures import SignatureVerifier, verify_one
from localpay.ledger.state import CityState


class ChainError(Conflict):
    """The chain disagrees with itself; the message names where and how."""


class PinMismatch(ChainError):
    """The chain is internally sound but not the one the caller pinned."""


@dataclass(frozen=True)
class Pins:
    """What the caller knows of the chain from elsewhere (both hex; None: not pinned)."""

    genesis: str | None = None
    operator_key: str | None = None

    def check(self, city: str, genesis_hash: str, operator_key: str) -> None:
        """Raise PinMismatch, in one line, if the chain's genesis is not the pinned one."""
        if self.genesis is not None and self.genesis.lower() != genesis_hash:
            raise PinMismatch(
                f"the chain of {city!r} has genesis {genesis_hash}, not the pinned"
                f" {self.genesis.lower()}: this is another chain"
            )
        if self.operator_key is not None and self.operator_key.lower() != operator_key:
            raise PinMismatch(
                f"the chain of {city!r} names operator key {operator_key}, not the pinned"
                f" {self.operator_key.lower()}"
            )


@dataclass
class Prepared:
    """A block's transactions decoded and their signatures checked, ahead of replay (a
    witness does this for the next page on another thread, in parallel)."""

    block: StoredBlock
    txs: list[TxRecord]
    decoded: list[tuple[Envelope, Command] | DecodeError]
    signers: list[frozenset[str] | None]


def prepare(
    block: StoredBlock, txs: Sequence[TxRecord], verifier: SignatureVerifier | None = None
) -> Prepared:
    """Decode every envelope and check every signature of a block."""
    decoded: list[tuple[Envelope, Command] | DecodeError] = []
    items = []
    for tx in txs:
        try:
            envelope, command = decode_envelope(tx.envelope)
        except DecodeError as exc:
            decoded.append(exc)
            continue
        decoded.append((envelope, command))
        items.append((bytes(envelope.body), envelope.sigs))
    if verifier is None:
        checked = iter([verify_one(body, sigs) for body, sigs in items])
    else:
        checked = iter(verifier.verify(items))
    signers = [None if isinstance(d, DecodeError) else next(checked) for d in decoded]
    return Prepared(block, list(txs), decoded, signers)


def prepare_verified(block: StoredBlock, txs: Sequence[TxRecord], verified: bytes) -> Prepared:
    """`prepare`, with the signatures already checked elsewhere: `verified[n]` is
    `signatures.envelopes_verified` of `txs[n]`'s envelope."""
    decoded: list[tuple[Envelope, Command] | DecodeError] = []
    signers: list[frozenset[str] | None] = []
    for tx, ok in zip(txs, verified, strict=True):
        try:
            envelope, command = decode_envelope(tx.envelope)
        except DecodeError as exc:
            decoded.append(exc)
            signers.append(None)
            continue
        decoded.append((envelope, command))
        signers.append(frozenset(s.key for s in envelope.sigs) if ok else None)
    return Prepared(block, list(txs), decoded, signers)


class Replayer:
    """Feed blocks in order; each is fully checked before the state advances.

    `not_after`, if given, is a clock (ms): a block whose time is later than it is
    refused (a witness passes its own clock plus the skew it tolerates)."""

    def __init__(
        self,
        city: str,
        pins: Pins | None = None,
        not_after: Callable[[], int] | None = None,
    ) -> None:
        self.city = city
        self.pins = pins or Pins()
        self.not_after = not_after
        self.state = CityState(city)
        self.head = ChainHead.empty(city)
        self.operator: nacl.signing.VerifyKey | None = None
        self.seen: set[str] = set()
        self.txs_replayed = 0
        self.touched: dict[str, None] = {}
        self.retired: list[str] = []

    @classmethod
    def resume(
        cls,
        store: Store,
        city: str,
        pins: Pins | None = None,
        not_after: Callable[[], int] | None = None,
    ) -> Self:
        """A replayer positioned after the last block of `store` (fresh if it has none),
        from its stored state, as a sequencer recovers: for a store whose every block was
        written by a verified replay (a witness's copy, an import's target)."""
        replayer = cls(city, pins, not_after)
        head = store.head(city)
        if head is None:
            return replayer
        for key, value in store.state(city):
            replayer.state.load_entity(key, value)
        genesis = replayer.state.genesis
        genesis_hash = stored_genesis_hash(store, city)
        if genesis is None or genesis_hash is None:
            raise ChainError(f"the store holds blocks of {city!r} but no genesis")
        replayer.pins.check(city, genesis_hash, genesis.operator_key)
        replayer._follow_rotation()  # the key the chain says signs its next block
        replayer.head = ChainHead.after(city, head, genesis_hash)
        replayer.seen = set(store.tx_ids(city))
        return replayer

    def feed(self, block: StoredBlock, txs: Sequence[TxRecord]) -> None:
        """Check and apply one block; `touched` then names the entities it changed."""
        self.apply(prepare(block, txs))

    def apply(self, prepared: Prepared) -> None:
        """`feed`, with the decoding and signature checks already done by `prepare`."""
        self.touched = {}
        block, txs = prepared.block, prepared.txs
        where = f"block {block.height}"
        header = self._check_header(block, where)
        if header.tx_count != len(txs):
            stored = ", ".join(f"tx {t.seq} (id {t.id})" for t in txs[:8])
            raise ChainError(
                f"{where}: header says {header.tx_count} txs, store has {len(txs)}: {stored}"
            )
        if header.height == 0:
            self._adopt_genesis(txs, where)
        self._check_signature(block, where)
        leaves = []
        for n, tx in enumerate(txs):
            self._replay_tx(
                tx,
                header,
                self.head.log.size + n,
                prepared.decoded[n],
                prepared.signers[n],
                f"{where}, tx {tx.seq} (#{n} in block, id {tx.id})",
            )
            leaves.append(merkle.leaf_hash(tx.leaf()))
        self._check_roots(header, leaves, where)
        self._check_checkpoint(block, header, where)
        self._follow_rotation()
        # As the sequencer does at the end of each block it seals (ledger/state.py).
        self.retired = self.state.retire(header.time_ms)
        self.head.height += 1
        self.head.prev = block.hash.hex()
        self.head.time_ms = header.time_ms

    def record(self, block: StoredBlock, txs: Sequence[TxRecord]) -> BlockRecord:
        """The block just applied, as a store writes it: with the log's frontier after it
        and the state entities it changed (in their replayed form)."""
        changes = [(key, self.state.encode_entity(key)) for key in self.touched]
        return BlockRecord(
            msgspec.json.decode(block.header_bytes, type=BlockHeader),
            block.header_bytes,
            block.hash,
            block.signature,
            block.checkpoint,
            list(self.head.log.hashes),
            list(txs),
            changes,
            list(self.retired),
        )

    def _check_header(self, block: StoredBlock, where: str) -> BlockHeader:
        try:
            header = msgspec.json.decode(block.header_bytes, type=BlockHeader)
        except msgspec.MsgspecError as exc:
            raise ChainError(f"{where}: header unreadable ({exc})") from None
        if header.height != self.head.height or block.height != self.head.height:
            raise ChainError(f"{where}: expected block {self.head.height} (missing or reordered)")
        if header_hash(block.header_bytes) != block.hash:
            raise ChainError(f"{where}: stored hash is not the hash of its header")
        if header.prev != self.head.prev:
            raise ChainError(f"{where}: does not link to block {self.head.height - 1}")
        if header.city != self.city:
            raise ChainError(f"{where}: a block of city {header.city!r}")
        if header.time_ms < self.head.time_ms:
            raise ChainError(f"{where}: time runs backwards")
        if self.not_after is not None and header.time_ms > (limit := self.not_after()):
            raise ChainError(
                f"{where}: block time {header.time_ms} is {header.time_ms - limit} ms past"
                " this clock's limit (clock skew)"
            )
        return header

    def _adopt_genesis(self, txs: Sequence[TxRecord], where: str) -> None:
        if len(txs) != 1:
            raise ChainError(f"{where}: genesis block must hold exactly the city's creation")
        try:
            _, command = decode_envelope(txs[0].envelope)
        except DecodeError as exc:
            raise ChainError(f"{where}: genesis unreadable ({exc})") from None
        if not isinstance(command, CreateCity):
            raise ChainError(f"{where}: first transaction is not create_city")
        genesis_hash = genesis_hash_of(txs[0].envelope)
        self.pins.check(self.city, genesis_hash, command.operator_key)
        self.operator = nacl.signing.VerifyKey(bytes.fromhex(command.operator_key))
        self.head.origin = chain_origin(self.city, genesis_hash)

    def _follow_rotation(self) -> None:
        """From the block after a rotation on, its new key must sign (ledger/rotation.py)."""
        current = self.state.operator_key()
        if self.operator is None or bytes(self.operator).hex() != current:
            self.operator = nacl.signing.VerifyKey(bytes.fromhex(current))

    def _retired_signer(self, verifies: Callable[[bytes], bool]) -> str:
        """' (signed by the retired operator key K, replaced by rotation R)' if a former
        operator key is the one that signed: a stolen old key is named as such."""
        for key in rotation.operator_keys(self.state)[:-1]:
            if verifies(bytes.fromhex(key)):
                return (
                    f" (signed by the retired operator key {key}, replaced by rotation"
                    f" {rotation.retired_by(self.state, key)})"
                )
        return ""

    def _check_signature(self, block: StoredBlock, where: str) -> None:
        assert self.operator is not None
        try:
            self.operator.verify(block.hash, block.signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            retired = self._retired_signer(lambda key: _verifies(key, block.hash, block.signature))
            raise ChainError(f"{where}: operator signature does not verify{retired}") from None

    def _replay_tx(
        self,
        tx: TxRecord,
        header: BlockHeader,
        seq: int,
        decoded: tuple[Envelope, Command] | DecodeError,
        signers: frozenset[str] | None,
        where: str,
    ) -> None:
        if tx.seq != seq:
            raise ChainError(f"{where}: out of place (log position {tx.seq})")
        if isinstance(decoded, DecodeError):
            raise ChainError(f"{where}: envelope unreadable ({decoded})")
        _, command = decoded
        if command.id != tx.id or command_type(command) != tx.kind or tx.height != header.height:
            raise ChainError(f"{where}: stored id, kind or height differ from the command")
        if command.city != self.city:
            # The sequencer refuses it (wrong_city): it was signed for another city's chain.
            raise ChainError(f"{where}: a command of city {command.city!r}")
        if command.id in self.seen:
            raise ChainError(f"{where}: id applied twice")
        if signers is None:
            raise ChainError(f"{where}: a command signature does not verify")
        result, keys = machine.apply(self.state, command, signers, header.time_ms)
        if not Code(result.code).recorded:  # e.g. unknown_signer: the sequencer never stores it
            raise ChainError(f"{where}: replay answers {result.code}, which is never recorded")
        self.touched.update(dict.fromkeys(keys))
        replayed = encode_result(result.recorded())  # as the sequencer records it
        if replayed != tx.result:
            recorded = tx.result.decode(errors="replace")
            raise ChainError(
                f"{where}: recorded result {recorded}, replay gives {replayed.decode()}"
            )
        self.seen.add(command.id)
        self.txs_replayed += 1

    def _check_roots(self, header: BlockHeader, leaves: list[bytes], where: str) -> None:
        if merkle.root(leaves).hex() != header.tx_root:
            raise ChainError(f"{where}: Merkle root of its transactions does not match")
        for leaf in leaves:
            self.head.log.append(leaf)
        if header.log_size != self.head.log.size or header.log_root != self.head.log.root().hex():
            raise ChainError(f"{where}: log root or size does not match the transactions")

    def check_frontier(self, block: StoredBlock) -> None:
        """The block's stored frontier must be the compact range of the log after it: the
        replay itself never reads it, but a sequencer resumes from it, so a damaged one
        would make the next block's roots wrong. Call after `feed`."""
        if block.frontier != list(self.head.log.hashes):
            raise ChainError(
                f"block {block.height}: its stored frontier is not the compact range of"
                " the log after it"
            )

    def _check_checkpoint(self, block: StoredBlock, header: BlockHeader, where: str) -> None:
        """The checkpoint must be exactly the one `chain.seal` makes for this block: the
        log's origin, size and root and nothing else, with one line, the operator's."""
        assert self.operator is not None
        try:
            body, sigs = checkpoint.open_note(block.checkpoint)
        except checkpoint.NoteError as exc:
            raise ChainError(f"{where}: checkpoint unreadable ({exc})") from None
        expected = checkpoint.checkpoint_body(
            self.head.origin, header.log_size, bytes.fromhex(header.log_root)
        )
        if body != expected:
            raise ChainError(f"{where}: checkpoint does not match the block")
        key = bytes(self.operator)
        if len(sigs) != 1 or not checkpoint.verify_note_signature(
            body, sigs[0], self.head.origin, key
        ):
            retired = ""
            if len(sigs) == 1:
                line, origin = sigs[0], self.head.origin
                retired = self._retired_signer(
                    lambda old: checkpoint.verify_note_signature(body, line, origin, old)
                )
            raise ChainError(f"{where}: checkpoint not signed by the operator{retired}")

    def compare_state(self, stored: Iterable[tuple[str, bytes]]) -> list[str]:
        """Differences between the stored state rows and the replayed state."""
        expected = {key: self.state.encode_entity(key) for key in self.state.entity_keys()}
        problems = []
        for key, value in stored:
            want = expected.pop(key, None)
            if want is None:
                problems.append(f"state {key}: stored but not produced by the chain")
            elif want != value:
                problems.append(f"state {key}: stored value differs from the replayed one")
        problems += [f"state {key}: missing from the store" for key in expected]
        return problems + self.state.check_invariants()


def _verifies(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True
