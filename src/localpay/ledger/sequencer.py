"""The one writer of a city's chain.

Commands arrive from any thread. A builder thread takes them in batches, checks
signatures in parallel, applies them in order to the in-memory state and seals a
block; a committer thread writes each block (transactions, results, state
changes, header) in one database transaction and only then answers the callers.
While block N is being written, block N+1 is being built: that overlap and the
one commit per block are where the speed comes from. A store failure stops the
sequencer for good (the memory state may be ahead of the disk): restart it.

Every submitted command gets exactly one answer, whatever fails. Each command has one
owner at a time (the intake, a stage's hands, a hand-off channel, the in-flight entry
its duplicate waits on) and that owner answers it. When a stage dies, or the store
fails, the sequencer closes both hand-off channels: a stage blocked handing work on
wakes up and answers what it holds, and whatever was still inside is answered with
SequencerStopped (retryable: none of it was written). `stop()` finishes what is
already sequenced, but returns after `STOP_TIMEOUT_S` even if the store hangs; the
lease is released by the committer itself after its last write returned, never while
a block write may still land (a new writer could otherwise fork the chain).

Block time comes from ledger/block_clock.py, which refuses a block (ClockSkew, nothing
sealed) when the clock is not to be trusted; blocks are signed by the operator key the
chain names (ledger/operator_keys.py). What callers get back is ledger/receipt.py; the
hand-offs between the threads are ledger/handoff.py.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Final, TypeVar

import msgspec
import nacl.signing
import structlog

from localpay.domain.codes import REASONS, Code
from localpay.domain.commands import (
    Command,
    CreateCity,
    DecodeError,
    Envelope,
    decode_envelope,
)
from localpay.domain.limits import BLOCK_TXS_MAX, CLOCK_SKEW_MS_MAX, QUEUE_MAX
from localpay.ledger import machine, recording
from localpay.ledger.block_clock import BlockClock
from localpay.ledger.blocks import BlockRecord, TxRecord
from localpay.ledger.chain import (
    ChainHead,
    chain_origin,
    genesis_hash_of,
    seal,
    stored_genesis_hash,
)
from localpay.ledger.handoff import BlockDraft, Channel, Inflight, Pending, answer_stopped, reject
from localpay.ledger.operator_keys import OperatorKeys
from localpay.ledger.ports import Store
from localpay.ledger.receipt import (
    BlockObserver,
    ClockSkew,
    LookupFailed,
    Overloaded,
    Receipt,
    SequencerStopped,
    receipt_of,
)
from localpay.ledger.results import Result
from localpay.ledger.seen import SeenIds
from localpay.ledger.signatures import SignatureVerifier
from localpay.ledger.state import CityState
from localpay.ledger.tickets import Ticket

#: Most commands decoded and verified as one batch. Smaller than a block so that the
#: stages overlap: batch N+1 is verified while batch N is applied and N-1 committed;
#: the builder coalesces ready batches back into one block.
VERIFY_BATCH: Final = 128
#: Sealed blocks waiting for their commit: the pipeline depth.
COMMIT_PIPELINE: Final = 2
#: How long stop() waits for the pipeline to finish before it gives up on a hung store.
STOP_TIMEOUT_S: Final = 5.0

log = structlog.get_logger("localpay.sequencer")
T = TypeVar("T")


_Verified = list[tuple[Pending, frozenset[str] | None]]
_Sealed = tuple[BlockRecord, list[Pending], list[Result]]


class Sequencer:
    def __init__(
        self,
        city: str,
        store: Store,
        operator: nacl.signing.SigningKey,
        clock: Callable[[], int],
        verifier: SignatureVerifier | None = None,
        max_block_txs: int = BLOCK_TXS_MAX,
        verify_batch: int = VERIFY_BATCH,
        max_clock_skew_ms: int | None = CLOCK_SKEW_MS_MAX,
        operator_keys: Callable[[str], nacl.signing.SigningKey | None] | None = None,
    ) -> None:
        """`operator` signs the genesis; `operator_keys` finds the private key of another
        operator public key (rotate_operator), None if this server has none."""
        self.city = city
        self.store = store
        # The key that signs the next block; switched after the block of a rotation.
        self.operator = operator
        self.operator_keys = OperatorKeys(city, operator, operator_keys)
        self.clock = clock
        self.block_clock = BlockClock(clock, max_clock_skew_ms)
        self.verifier = verifier or SignatureVerifier()
        self.max_block_txs = max_block_txs
        self.verify_batch = verify_batch
        self.state = CityState(city)
        self.head = ChainHead.empty(city)
        # Every id applied, as a filter: "new" for certain, or "maybe" for the store's
        # index to settle (ledger/seen.py); ids not yet durable are in _inflight.
        self._seen = SeenIds()
        #: "Maybe seen" answers the store settled: repeats, and the filter's false alarms.
        self.id_lookups = 0
        # Ids sequenced but not yet durable -> their envelope and the futures of
        # duplicates waiting on them.
        self._inflight: dict[str, Inflight] = {}
        self._intake: collections.deque[Pending] = collections.deque()
        self._wake = threading.Condition()
        self._verified: Channel[_Verified] = Channel(COMMIT_PIPELINE)
        self._commits: Channel[_Sealed] = Channel(COMMIT_PIPELINE)
        self._lock = threading.Lock()
        self._running = False
        self.failure: BaseException | None = None
        self.observers: list[BlockObserver] = []
        self.observer_errors = 0
        self._exit = ExitStack()
        self._threads: list[threading.Thread] = []
        self._writers = 2  # builder and committer: see _writer_done

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> Sequencer:
        self._exit.enter_context(self.store.lease(self.city))
        try:
            self._recover()
        except BaseException:
            self._exit.close()
            raise
        self.block_clock.start()
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
            genesis_hash = stored_genesis_hash(self.store, self.city)
            assert genesis_hash is not None, "store has blocks but no genesis transaction"
            self.head = ChainHead.after(self.city, head, genesis_hash)
            self.operator = self.operator_keys.current(self.state)
        self._seen = SeenIds.of(self.store.tx_ids(self.city), expected=self.head.log.size)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Take no more commands, finish those already sequenced, and return within
        about `timeout` seconds even if the store hangs.

        Commands not yet taken are answered SequencerStopped at once. If the pipeline
        has not finished in time, it is failed: everything still queued is answered,
        and a stage blocked on the store answers its own work when the store returns.
        The lease stays with the committer until its last write returned (see
        _commit_loop), so it may outlive this call: a new sequencer then gets
        LeaseHeld until the hung write is over, rather than forking the chain."""
        with self._wake:
            self._running = False
            stranded = list(self._intake)
            self._intake.clear()
            self._wake.notify_all()
        answer_stopped(stranded, f"sequencer for {self.city} stopped")
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self._fail(SequencerStopped(f"stopped with the store still busy after {timeout} s"))
        else:  # the committer released the lease already; this covers a never-started one
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
            if len(self._intake) + len(items) > QUEUE_MAX:
                raise Overloaded(f"more than {QUEUE_MAX} commands waiting for {self.city}")
            self._intake.extend(map(Pending, items, futures))
            self._wake.notify()
        return futures

    def queue_depth(self) -> int:
        return len(self._intake)

    def _take_batch(self) -> list[Pending]:
        """The next commands to verify; empty once stopping (the rest is answered then)."""
        with self._wake:
            while self._running and not self._intake:
                self._wake.wait(0.5)
            count = min(self.verify_batch, len(self._intake))
            return [self._intake.popleft() for _ in range(count)]

    # -- verifying ----------------------------------------------------------------------

    def _verify_loop(self) -> None:
        """Stage 1: decode and check signatures of batch N+1 while N is being applied."""
        batch: list[Pending] = []
        try:
            while batch := self._take_batch():
                batch = self._decode(batch)
                if batch:
                    items = [(bytes(p.envelope.body), p.envelope.sigs) for p in batch if p.envelope]
                    verified = list(zip(batch, self.verifier.verify(items), strict=True))
                    if not self._verified.put(verified):
                        answer_stopped(batch, "sequencer failed before building these")
                batch = []
        except BaseException as exc:  # a bug: stop taking work, fail loudly
            self._fail(exc)
            answer_stopped(batch, f"sequencer failed: {exc}")
        finally:
            self._verified.end()

    def _decode(self, batch: list[Pending]) -> list[Pending]:
        good = []
        for pending in batch:
            try:
                pending.envelope, pending.command = decode_envelope(pending.data)
            except DecodeError as exc:
                reject(pending, "", exc.code, str(exc))
                continue
            if pending.command.city != self.city:
                reject(pending, pending.command.id, Code.WRONG_CITY, REASONS[Code.WRONG_CITY])
                continue
            good.append(pending)
        return good

    # -- building ----------------------------------------------------------------------

    def _build_loop(self) -> None:
        """Stage 2: apply verified commands in arrival order and seal blocks."""
        try:
            while (batch := self._verified.get()) is not None:
                # Coalesce what else is already verified into the same block.
                while len(batch) < self.max_block_txs:
                    if (more := self._verified.get(wait=False)) is None:
                        break
                    batch.extend(more)
                self._build(batch)
        except BaseException as exc:  # _build answered its batch
            self._fail(exc)
        finally:
            self._commits.end()
            self._writer_done()

    def _build(self, batch: _Verified) -> None:
        """Apply a batch and seal its blocks; if that fails, answer what nobody else will."""
        try:
            try:
                now = self.block_clock.block_time(self.head)
            except ClockSkew as exc:
                self._refuse(batch, exc)
                return
            self._apply_batch(batch, now)
        except BaseException as exc:
            answer_stopped([p for p, _ in batch], f"sequencer failed: {exc}", skip_handed=True)
            raise

    def _refuse(self, batch: _Verified, exc: ClockSkew) -> None:
        """Seal nothing with a clock that is off; the commands may be retried."""
        if self.block_clock.distrust():  # once per episode, not once per batch
            log.error("clock_skew", city=self.city, reason=str(exc))
        for pending, _ in batch:
            pending.future.set_exception(ClockSkew(f"block refused: {exc}"))

    def _apply_batch(self, batch: _Verified, now: int) -> None:
        block = BlockDraft()
        for pending, signers in batch:
            command = pending.command
            assert command is not None and pending.envelope is not None
            if signers is None:
                reject(pending, command.id, Code.SIGNATURE_INVALID, REASONS[Code.SIGNATURE_INVALID])
                continue
            if command.id in self._seen and self._join_duplicate(pending, command.id):
                continue
            if self.state.genesis is None:
                self._genesis(pending, command, signers, now)
                continue
            if self.operator_keys.unsignable(self.state, command, signers):
                code = Code.OPERATOR_KEY_UNAVAILABLE
                reject(pending, command.id, code, REASONS[code])
                continue
            result, keys = machine.apply(self.state, command, signers, now)
            if not Code(result.code).recorded:  # a stranger's junk: answered, never stored
                reject(pending, command.id, result.code, REASONS[Code(result.code)])
                continue
            block.touched.update(dict.fromkeys(keys))
            block.add(
                self._record(pending.envelope, command, result, len(block.txs)), pending, result
            )
            self._seen.add(command.id)
            if len(block.txs) >= self.max_block_txs:
                self._seal(block, now)
                block = BlockDraft()
        self._seal(block, now)

    def _genesis(
        self, pending: Pending, command: Command, signers: frozenset[str], now: int
    ) -> None:
        """Block 0 holds the city's creation alone; nothing is recorded before it."""
        if not isinstance(command, CreateCity):
            reject(pending, command.id, Code.CITY_NOT_FOUND, REASONS[Code.CITY_NOT_FOUND])
            return
        assert pending.envelope is not None
        genesis_hash = genesis_hash_of(recording.stored_envelope(pending.envelope))
        self.head.origin = chain_origin(self.city, genesis_hash)
        result, keys = machine.apply(self.state, command, signers, now)
        if not result.ok:
            reject(pending, command.id, result.code, REASONS[Code(result.code)])
            return
        block = BlockDraft()
        block.touched.update(dict.fromkeys(keys))
        assert pending.envelope is not None
        block.add(self._record(pending.envelope, command, result, 0), pending, result)
        self._seen.add(command.id)
        self._seal(block, now)

    def _seal(self, draft: BlockDraft, now: int) -> None:
        if not draft.txs:
            return
        changes = [(key, self.state.encode_entity(key)) for key in draft.touched]
        block = seal(self.head, now, draft.txs, changes, self.operator)
        self.operator = self.operator_keys.find(self.state.operator_key()) or self.operator
        # At every block's end, as every replay does: the same state on both sides.
        if retired := self.state.retire(now):
            block = msgspec.structs.replace(block, retired=retired)
        for pending in draft.pending:
            pending.handed = True
        if not self._commits.put((block, draft.pending, draft.results)):
            self._unwritten(block, draft.pending, "sequencer failed before writing this block")

    def _record(self, envelope: Envelope, command: Command, result: Result, n: int) -> TxRecord:
        """The transaction's record, in flight (a repeat waits on it) until durable."""
        tx = recording.tx_record(self.state, self.head, envelope, command, result, n)
        with self._lock:
            self._inflight[command.id] = Inflight(tx.envelope)
        return tx

    def _join_duplicate(self, pending: Pending, tx_id: str) -> bool:
        """A repeated id gets the original answer, never a second effect.

        Only the very same envelope is a repeat: an id is bound to the exact bytes it
        was first recorded with, so a different command under a used id (a bug, or
        someone fishing for another party's receipt) gets `id_reused` and no data.
        False: the id was never applied (the filter's false alarm), sequence it."""
        assert pending.envelope is not None
        envelope = recording.stored_envelope(pending.envelope)
        with self._lock:
            inflight = self._inflight.get(tx_id)
            if inflight is not None:  # original not durable yet: answer when it is
                if inflight.envelope != envelope:
                    reject(pending, tx_id, Code.ID_REUSED, REASONS[Code.ID_REUSED])
                else:
                    inflight.waiters.append(pending.future)
                    pending.handed = True
                return True
        self.id_lookups += 1
        try:
            original = self.store.find_tx(self.city, tx_id)
        except Exception as exc:  # the store is unwell: an answer, not a dead builder
            pending.future.set_exception(LookupFailed(f"duplicate lookup failed: {exc}"))
            return True
        if original is None:
            if self.failure is None:  # the filter's false alarm: a new id after all
                return False
            # Its block failed to be written (it left _inflight then): this one is dead.
            pending.future.set_exception(SequencerStopped("the original command was not written"))
            return True
        if original.envelope != envelope:
            reject(pending, tx_id, Code.ID_REUSED, REASONS[Code.ID_REUSED])
        else:
            pending.future.set_result(receipt_of(original, duplicate=True))
        return True

    # -- committing --------------------------------------------------------------------

    def _commit_loop(self) -> None:
        """Stage 3: write each sealed block in one transaction, then answer its commands."""
        try:
            while (item := self._commits.get()) is not None:
                self._commit(*item)
        except BaseException as exc:  # a bug: _commit answered its block
            self._fail(exc)
        finally:
            # Fencing: the lease is released here, by the only thread that writes, once
            # its last append_block has returned; never by stop() while a write may still
            # land, for the next lease holder would then build on a head about to change.
            self._exit.close()
            self._writer_done()

    def _commit(self, block: BlockRecord, sequenced: list[Pending], results: list[Result]) -> None:
        if self.failure is not None:  # never write past a failed block
            self._unwritten(block, sequenced, "sequencer failed earlier")
            return
        begin = time.perf_counter()
        try:
            self.store.append_block(self.city, block)
        except BaseException as exc:
            self._fail(exc)
            self._unwritten(block, sequenced, f"block not written: {exc}")
            return
        try:
            self._acknowledge(block, sequenced, results)
        except BaseException:  # written: a retry of the same bytes gets the original answer
            answer_stopped(sequenced, "block written, but its answers failed: retry")
            raise
        elapsed = time.perf_counter() - begin
        for observe in self.observers:
            try:
                observe(self.city, block, results, elapsed)
            except Exception:  # an observer's bug must never stop the chain
                self.observer_errors += 1

    def _acknowledge(
        self, block: BlockRecord, sequenced: list[Pending], results: list[Result]
    ) -> None:
        for tx, pending, result in zip(block.txs, sequenced, results, strict=True):
            receipt = receipt_of(tx, result)
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

    def _unwritten(self, block: BlockRecord, sequenced: list[Pending], why: str) -> None:
        """Answer the commands of a block that will never be written, and their duplicates."""
        answer_stopped(sequenced, why)
        self._release(block)

    def _writer_done(self) -> None:
        """The last of builder and committer to end fails the duplicates still waiting
        (on a block never sealed): no one will write their originals now."""
        with self._lock:
            self._writers -= 1
            if self._writers:
                return
            stranded = list(self._inflight.values())
            self._inflight.clear()
        for inflight in stranded:
            for future in inflight.waiters:
                future.set_exception(SequencerStopped("the original command was not written"))

    def _fail(self, exc: BaseException) -> None:
        """Stop for good. Answer every command no stage holds (a stage answers what it
        holds) and close the hand-offs, so no stage waits on a dead neighbour."""
        with self._wake:
            first = self.failure is None
            if first:
                self.failure = exc
            self._running = False
            self._wake.notify_all()
            stranded = list(self._intake)
            self._intake.clear()
        if first:
            log.error("sequencer_failed", city=self.city, error=f"{type(exc).__name__}: {exc}")
        why = f"sequencer failed: {exc}"
        answer_stopped(stranded, why)
        for verified in self._verified.close():
            answer_stopped([pending for pending, _ in verified], why)
        for block, sequenced, _ in self._commits.close():
            self._unwritten(block, sequenced, why)
