"""The one writer of a city's chain.

Commands arrive from any thread. A builder thread takes them in batches, checks
signatures in parallel, applies them in order to the in-memory state and seals a
block; a committer thread writes each block (transactions, results, state
changes, header) in one database transaction and only then answers the callers.
While block N is being written, block N+1 is being built: that overlap and the
one commit per block are where the speed comes from. A store failure stops the
sequencer for good (the memory state may be ahead of the disk): restart it.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Final, Protocol

import msgspec
import nacl.signing

from localpay.domain.codes import REASONS, Code
from localpay.domain.commands import (
    Command,
    CreateCity,
    DecodeError,
    Envelope,
    command_type,
    decode_envelope,
    encode_canonical,
)
from localpay.ledger import machine, privacy
from localpay.ledger.blocks import BlockRecord, TxRecord, encode_result
from localpay.ledger.chain import ChainHead, chain_origin, seal
from localpay.ledger.results import Result
from localpay.ledger.signatures import SignatureVerifier
from localpay.ledger.state import CityState
from localpay.ledger.store import Store
from localpay.ledger.tickets import Ticket

#: Most commands in one block: bounds a block's memory and its commit time.
MAX_BLOCK_TXS: Final = 4096
#: Most commands decoded and verified as one batch. Smaller than a block so that the
#: stages overlap: batch N+1 is verified while batch N is applied and N-1 committed;
#: the builder coalesces ready batches back into one block.
VERIFY_BATCH: Final = 128
#: Most commands waiting to be sequenced; beyond it submit() refuses (backpressure).
MAX_QUEUE: Final = 100_000
#: Sealed blocks waiting for their commit: the pipeline depth.
COMMIT_PIPELINE: Final = 2


class Receipt(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer to one submitted command, given once its block is durable."""

    id: str
    code: str
    message: str = ""
    result: Result | None = None
    seq: int | None = None
    height: int | None = None
    duplicate: bool = False
    # (account, balance after) of the command's sender: private, never the leaf's. Only
    # for that account's eyes; see `balance_of` and api/commands.py `receipt_response`.
    balances: tuple[tuple[str, int], ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == Code.OK

    def balance_of(self, account: str) -> int | None:
        """`account`'s balance after the command, if it sent it."""
        return dict(self.balances).get(account)


class BlockObserver(Protocol):
    """Told about every durable block (metrics, live feeds); must be quick and not raise."""

    def __call__(
        self, city: str, block: BlockRecord, results: list[Result], commit_seconds: float
    ) -> None: ...


class SequencerStopped(RuntimeError):
    """The sequencer is not running (stopped, or failed on a store error)."""


class LookupFailed(RuntimeError):
    """The store could not say whether a repeated id was applied: retry the same command."""


class _Inflight:
    """A command sequenced but not yet durable: its exact envelope, and who waits on it."""

    __slots__ = ("envelope", "waiters")

    def __init__(self, envelope: bytes) -> None:
        self.envelope = envelope
        self.waiters: list[Ticket[Receipt]] = []


class Overloaded(RuntimeError):
    """Too many commands are waiting; the caller should retry later."""


class _BlockDraft:
    """Transactions of the block being built, with who waits for each."""

    __slots__ = ("pending", "results", "touched", "txs")

    def __init__(self) -> None:
        self.txs: list[TxRecord] = []
        self.pending: list[_Pending] = []
        self.results: list[Result] = []
        self.touched: dict[str, None] = {}

    def add(self, tx: TxRecord, pending: _Pending, result: Result) -> None:
        self.txs.append(tx)
        self.pending.append(pending)
        self.results.append(result)


class _Pending:
    __slots__ = ("command", "data", "envelope", "future")

    def __init__(self, data: bytes, future: Ticket[Receipt]) -> None:
        self.data = data
        self.future = future
        self.envelope: Envelope | None = None
        self.command: Command | None = None


def _reject(pending: _Pending, tx_id: str, code: str, message: str) -> None:
    pending.future.set_result(Receipt(id=tx_id, code=code, message=message))


class Sequencer:
    def __init__(
        self,
        city: str,
        store: Store,
        operator: nacl.signing.SigningKey,
        clock: Callable[[], int],
        verifier: SignatureVerifier | None = None,
        max_block_txs: int = MAX_BLOCK_TXS,
        verify_batch: int = VERIFY_BATCH,
    ) -> None:
        self.city = city
        self.store = store
        self.operator = operator
        self.clock = clock
        self.verifier = verifier or SignatureVerifier()
        self.max_block_txs = max_block_txs
        self.verify_batch = verify_batch
        self.state = CityState(city)
        self.head = ChainHead.empty(city)
        self._seen: set[str] = set()
        # Ids sequenced but not yet durable -> their envelope and the futures of
        # duplicates waiting on them.
        self._inflight: dict[str, _Inflight] = {}
        self._intake: collections.deque[_Pending] = collections.deque()
        self._wake = threading.Condition()
        self._verified: queue.Queue[list[tuple[_Pending, frozenset[str] | None]] | None] = (
            queue.Queue(COMMIT_PIPELINE)
        )
        self._commits: queue.Queue[tuple[BlockRecord, list[_Pending], list[Result]] | None] = (
            queue.Queue(COMMIT_PIPELINE)
        )
        self._lock = threading.Lock()
        self._running = False
        self.failure: BaseException | None = None
        self.observers: list[BlockObserver] = []
        self.observer_errors = 0
        self._exit = ExitStack()
        self._threads: list[threading.Thread] = []

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> Sequencer:
        self._exit.enter_context(self.store.lease(self.city))
        try:
            self._recover()
        except BaseException:
            self._exit.close()
            raise
        self._running = True
        stages = (
            ("verifier", self._verify_loop),
            ("builder", self._build_loop),
            ("committer", self._commit_loop),
        )
        for name, target in stages:
            thread = threading.Thread(target=target, name=f"{name}-{self.city}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _recover(self) -> None:
        """Rebuild memory from the store: state rows, chain head, spent ids."""
        for key, value in self.store.state(self.city):
            self.state.load_entity(key, value)
        head = self.store.head(self.city)
        if head is not None:
            assert self.state.genesis is not None, "store has blocks but no genesis state"
            self.head = ChainHead.after(self.city, head, self.state.genesis.id)
        self._seen = set(self.store.tx_ids(self.city))

    def stop(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._exit.close()

    def __enter__(self) -> Sequencer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running and self.failure is None

    # -- intake ------------------------------------------------------------------------

    def submit(self, data: bytes) -> Ticket[Receipt]:
        return self.submit_many([data])[0]

    def submit_many(self, items: Sequence[bytes]) -> list[Ticket[Receipt]]:
        futures: list[Ticket[Receipt]] = [Ticket() for _ in items]
        with self._wake:
            if not self.running:
                raise SequencerStopped(f"sequencer for {self.city} is not running") from (
                    self.failure
                )
            if len(self._intake) + len(items) > MAX_QUEUE:
                raise Overloaded(f"more than {MAX_QUEUE} commands waiting for {self.city}")
            self._intake.extend(map(_Pending, items, futures))
            self._wake.notify()
        return futures

    def queue_depth(self) -> int:
        return len(self._intake)

    def _take_batch(self) -> list[_Pending]:
        with self._wake:
            while self._running and not self._intake:
                self._wake.wait(0.5)
            count = min(self.verify_batch, len(self._intake))
            return [self._intake.popleft() for _ in range(count)]

    # -- verifying ----------------------------------------------------------------------

    def _verify_loop(self) -> None:
        """Stage 1: decode and check signatures of batch N+1 while N is being applied."""
        try:
            while self._running:
                batch = self._decode(self._take_batch())
                if batch:
                    items = [(bytes(p.envelope.body), p.envelope.sigs) for p in batch if p.envelope]
                    self._verified.put(list(zip(batch, self.verifier.verify(items), strict=True)))
        except BaseException as exc:  # a bug: stop taking work, fail loudly
            self._fail(exc)
        finally:
            self._verified.put(None)

    def _decode(self, batch: list[_Pending]) -> list[_Pending]:
        good = []
        for pending in batch:
            try:
                pending.envelope, pending.command = decode_envelope(pending.data)
            except DecodeError as exc:
                _reject(pending, "", exc.code, str(exc))
                continue
            if pending.command.city != self.city:
                _reject(pending, pending.command.id, Code.WRONG_CITY, REASONS[Code.WRONG_CITY])
                continue
            good.append(pending)
        return good

    # -- building ----------------------------------------------------------------------

    def _build_loop(self) -> None:
        """Stage 2: apply verified commands in arrival order and seal blocks."""
        try:
            while True:
                batch = self._verified.get()
                if batch is None:
                    return
                # Coalesce what else is already verified into the same block.
                while len(batch) < self.max_block_txs:
                    try:
                        more = self._verified.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._verified.put(None)
                        break
                    batch.extend(more)
                self._build(batch)
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._commits.put(None)

    def _build(self, batch: list[tuple[_Pending, frozenset[str] | None]]) -> None:
        now = max(self.clock(), self.head.time_ms)
        block = _BlockDraft()
        for pending, signers in batch:
            command = pending.command
            assert command is not None and pending.envelope is not None
            if signers is None:
                _reject(
                    pending, command.id, Code.SIGNATURE_INVALID, REASONS[Code.SIGNATURE_INVALID]
                )
                continue
            if command.id in self._seen and self._join_duplicate(pending, command.id):
                continue
            if self.state.genesis is None:
                self._genesis(pending, command, signers, now)
                continue
            result, keys = machine.apply(self.state, command, signers, now)
            if not Code(result.code).recorded:  # a stranger's junk: answered, never stored
                _reject(pending, command.id, result.code, REASONS[Code(result.code)])
                continue
            block.touched.update(dict.fromkeys(keys))
            block.add(
                self._record(pending.envelope, command, result, len(block.txs)), pending, result
            )
            self._seen.add(command.id)
            if len(block.txs) >= self.max_block_txs:
                self._seal(block, now)
                block = _BlockDraft()
        self._seal(block, now)

    def _genesis(
        self, pending: _Pending, command: Command, signers: frozenset[str], now: int
    ) -> None:
        """Block 0 holds the city's creation alone; nothing is recorded before it."""
        if not isinstance(command, CreateCity):
            _reject(pending, command.id, Code.CITY_NOT_FOUND, REASONS[Code.CITY_NOT_FOUND])
            return
        self.head.origin = chain_origin(self.city, command.id)
        result, keys = machine.apply(self.state, command, signers, now)
        if not result.ok:
            _reject(pending, command.id, result.code, REASONS[Code(result.code)])
            return
        block = _BlockDraft()
        block.touched.update(dict.fromkeys(keys))
        assert pending.envelope is not None
        block.add(self._record(pending.envelope, command, result, 0), pending, result)
        self._seen.add(command.id)
        self._seal(block, now)

    def _seal(self, draft: _BlockDraft, now: int) -> None:
        if not draft.txs:
            return
        changes = [(key, self.state.encode_entity(key)) for key in draft.touched]
        block = seal(self.head, now, draft.txs, changes, self.operator)
        self._commits.put((block, draft.pending, draft.results))

    def _record(self, envelope: Envelope, command: Command, result: Result, n: int) -> TxRecord:
        stored = _stored_envelope(envelope)
        with self._lock:
            self._inflight[command.id] = _Inflight(stored)
        # Outside the leaf: whose histories list it, and the sender's balance after it.
        signers = [s.key for s in envelope.sigs]  # all verified, or it was rejected
        sender = privacy.sender(command, signers, privacy.state_keys(self.state))
        parties = machine.parties(self.state, command)
        return TxRecord(
            seq=self.head.log.size + n,
            height=self.head.height,
            id=command.id,
            kind=command_type(command),
            envelope=stored,
            result=encode_result(result.recorded()),
            parties=privacy.history_parties(parties, sender, result.ok),
            balances=privacy.sender_balances(self.state, sender) if result.ok else (),
        )

    def _join_duplicate(self, pending: _Pending, tx_id: str) -> bool:
        """A repeated id gets the original answer, never a second effect.

        Only the very same envelope is a repeat: an id is bound to the exact bytes it
        was first recorded with, so a different command under a used id (a bug, or
        someone fishing for another party's receipt) gets `id_reused` and no data."""
        assert pending.envelope is not None
        envelope = _stored_envelope(pending.envelope)
        with self._lock:
            inflight = self._inflight.get(tx_id)
            if inflight is not None:  # original not durable yet: answer when it is
                if inflight.envelope != envelope:
                    _reject(pending, tx_id, Code.ID_REUSED, REASONS[Code.ID_REUSED])
                else:
                    inflight.waiters.append(pending.future)
                return True
        try:
            original = self.store.find_tx(self.city, tx_id)
        except Exception as exc:  # the store is unwell: an answer, not a dead builder
            pending.future.set_exception(LookupFailed(f"duplicate lookup failed: {exc}"))
            return True
        assert original is not None, f"id {tx_id} seen but not stored"
        if original.envelope != envelope:
            _reject(pending, tx_id, Code.ID_REUSED, REASONS[Code.ID_REUSED])
        else:
            pending.future.set_result(_receipt(original, duplicate=True))
        return True

    # -- committing --------------------------------------------------------------------

    def _commit_loop(self) -> None:
        while True:
            item = self._commits.get()
            if item is None:
                return
            block, sequenced, results = item
            if self.failure is not None:  # never write past a failed block
                for pending in sequenced:
                    pending.future.set_exception(SequencerStopped("sequencer failed earlier"))
                self._release(block)
                continue
            begin = time.perf_counter()
            try:
                self.store.append_block(self.city, block)
            except BaseException as exc:
                self._fail(exc)
                for pending in sequenced:
                    pending.future.set_exception(SequencerStopped(f"block not written: {exc}"))
                self._release(block)
                continue
            self._acknowledge(block, sequenced, results)
            elapsed = time.perf_counter() - begin
            for observe in self.observers:
                try:
                    observe(self.city, block, results, elapsed)
                except Exception:  # an observer's bug must never stop the chain
                    self.observer_errors += 1

    def _acknowledge(
        self, block: BlockRecord, sequenced: list[_Pending], results: list[Result]
    ) -> None:
        for tx, pending, result in zip(block.txs, sequenced, results, strict=True):
            receipt = _receipt(tx, result)
            pending.future.set_result(receipt)
            with self._lock:
                waiters = self._inflight.pop(tx.id).waiters
            if waiters:
                duplicate = msgspec.structs.replace(receipt, duplicate=True)
                for future in waiters:
                    future.set_result(duplicate)

    def _release(self, block: BlockRecord) -> None:
        """Fail the duplicates that waited on a block that will never be durable."""
        for tx in block.txs:
            with self._lock:
                inflight = self._inflight.pop(tx.id, None)
            for future in inflight.waiters if inflight else ():
                future.set_exception(SequencerStopped("the original command was not written"))

    def _fail(self, exc: BaseException) -> None:
        with self._wake:
            if self.failure is None:
                self.failure = exc
            self._running = False
            self._wake.notify_all()
            stranded = list(self._intake)
            self._intake.clear()
        for pending in stranded:
            pending.future.set_exception(SequencerStopped(f"sequencer failed: {exc}"))


def _stored_envelope(envelope: Envelope) -> bytes:
    """The envelope as the chain stores it, re-made canonically (the body is already
    checked canonical): the bytes a command id is bound to."""
    return b'{"body":' + bytes(envelope.body) + b',"sigs":' + encode_canonical(envelope.sigs) + b"}"


def _receipt(tx: TxRecord, result: Result | None = None, duplicate: bool = False) -> Receipt:
    """The receipt of a stored transaction (its result decoded unless already at hand):
    the result as recorded, and the sender's balance apart, for the API to show to the
    sender alone."""
    result = result or tx.decoded_result()
    return Receipt(
        id=tx.id,
        code=result.code,
        message=REASONS[Code(result.code)],
        result=result.recorded(),
        seq=tx.seq,
        height=tx.height,
        duplicate=duplicate,
        balances=tx.balances,
    )
