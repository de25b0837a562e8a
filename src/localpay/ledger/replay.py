"""Independent replay of a city's chain: the check behind `localpay verify` and witnesses.

Replays every block from genesis into a fresh state, re-checking what the
operator claims at each step: block links and hashes, the operator's signatures,
each transaction's signatures and its recorded result and position, the Merkle
roots, the checkpoint. The first block that disagrees stops the replay and is
named with its transaction; the final state is then compared with the stored one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import nacl.exceptions
import nacl.signing

from localpay.domain.codes import Code
from localpay.domain.commands import CreateCity, DecodeError, command_type, decode_envelope
from localpay.ledger import checkpoint, machine, merkle
from localpay.ledger.blocks import BlockHeader, TxRecord, encode_result, header_hash
from localpay.ledger.chain import ChainHead, chain_origin
from localpay.ledger.signatures import verify_one
from localpay.ledger.state import CityState
from localpay.ledger.store import StoredBlock


class ChainError(Exception):
    """The chain disagrees with itself; the message names where and how."""


class Replayer:
    """Feed blocks in order; each is fully checked before the state advances."""

    def __init__(self, city: str) -> None:
        self.city = city
        self.state = CityState(city)
        self.head = ChainHead.empty(city)
        self.operator: nacl.signing.VerifyKey | None = None
        self.seen: set[str] = set()
        self.txs_replayed = 0

    def feed(self, block: StoredBlock, txs: Sequence[TxRecord]) -> None:
        """Check and apply one block; `touched` then names the entities it changed."""
        self.touched: dict[str, None] = {}
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
                f"{where}, tx {tx.seq} (#{n} in block, id {tx.id})",
            )
            leaves.append(merkle.leaf_hash(tx.leaf()))
        self._check_roots(header, leaves, where)
        self._check_checkpoint(block, header, where)
        self.head.height += 1
        self.head.prev = block.hash.hex()
        self.head.time_ms = header.time_ms

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
        if header.city != self.city or header.time_ms < self.head.time_ms:
            raise ChainError(f"{where}: wrong city or time runs backwards")
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
        self.operator = nacl.signing.VerifyKey(bytes.fromhex(command.operator_key))
        self.head.origin = chain_origin(self.city, command.id)

    def _check_signature(self, block: StoredBlock, where: str) -> None:
        assert self.operator is not None
        try:
            self.operator.verify(block.hash, block.signature)
        except nacl.exceptions.BadSignatureError:
            raise ChainError(f"{where}: operator signature does not verify") from None

    def _replay_tx(self, tx: TxRecord, header: BlockHeader, seq: int, where: str) -> None:
        if tx.seq != seq:
            raise ChainError(f"{where}: out of place (log position {tx.seq})")
        try:
            envelope, command = decode_envelope(tx.envelope)
        except DecodeError as exc:
            raise ChainError(f"{where}: envelope unreadable ({exc})") from None
        if command.id != tx.id or command_type(command) != tx.kind or tx.height != header.height:
            raise ChainError(f"{where}: stored id, kind or height differ from the command")
        if command.id in self.seen:
            raise ChainError(f"{where}: id applied twice")
        signers = verify_one(bytes(envelope.body), envelope.sigs)
        if signers is None:
            raise ChainError(f"{where}: a command signature does not verify")
        result, keys = machine.apply(self.state, command, signers, header.time_ms)
        if not Code(result.code).recorded:  # e.g. unknown_signer: the sequencer never stores it
            raise ChainError(f"{where}: replay answers {result.code}, which is never recorded")
        self.touched.update(dict.fromkeys(keys))
        replayed = encode_result(result.recorded())  # as the sequencer records it
        if replayed != tx.result:
            recorded = tx.result.decode()
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
        assert self.operator is not None
        try:
            body, sigs = checkpoint.open_note(block.checkpoint)
            point = checkpoint.parse_checkpoint(body)
        except checkpoint.NoteError as exc:
            raise ChainError(f"{where}: checkpoint unreadable ({exc})") from None
        if (point.origin, point.size, point.root.hex()) != (
            self.head.origin,
            header.log_size,
            header.log_root,
        ):
            raise ChainError(f"{where}: checkpoint does not match the block")
        key = bytes(self.operator)
        if not any(checkpoint.verify_note_signature(body, s, self.head.origin, key) for s in sigs):
            raise ChainError(f"{where}: checkpoint not signed by the operator")

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
