"""A witness: an independent process that re-executes a city's chain and co-signs it.

`localpay witness` follows a server's chain feed (GET /v1/cities/{city}/feed) and keeps
its own full copy of the chain in its own store: every block is checked with
ledger/replay.Replayer, the same replay as `localpay verify` and `import` (hash links,
the operator's block and checkpoint signatures, every command's city and signatures,
Merkle roots, block time against the witness's own clock) and every transaction
re-executed against the witness's own state before the
block and the state entities it changed are written with `append_block`, so
`localpay --db <witness store> verify` works on the copy. Then the witness co-signs the
newest checkpoint it verified (C2SP tlog-cosignature) and posts the line to
POST /v1/cities/{city}/checkpoints/{size}/cosignatures.

It refuses and raises an alarm when the operator's chain is inconsistent with itself or
with what the witness verified before, and signs nothing more for that city until an
operator clears it (alarms.py lists the reasons and what an alarm does).

Its progress is its store's head: after a restart of either side it resumes there,
asking the feed again for its own last block, which must come back unchanged. While
following, a rolling audit re-reads the history it already verified from the server
and compares it, block by block and byte for byte, with its own copy, so an in-place
edit of an old transaction is found too.

The parts: replay.py (re-execution), follow.py (reading the feed), audit.py (the
rolling audit), forks.py (comparing notes with peers), alarms.py; ports.py says what it
needs from outside (its records, the feed, peers, clocks), which bootstrap.new_witness
provides. Its health server is entrypoints/witness/health.py.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import nacl.signing
import structlog

from localpay.domain.limits import WITNESS_BACKOFF_S_MAX
from localpay.domain.witness import RaisedAlarm
from localpay.ledger.blocks import BlockHeader, BlockRecord, decode_header
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.readahead import prepared_now
from localpay.ledger.replay import ChainError, PinMismatch, Prepared
from localpay.ledger.signatures import EnvelopeChecker
from localpay.services.witness.alarms import Alarm, classify
from localpay.services.witness.audit import audit_page
from localpay.services.witness.follow import Feed, FeedUnavailable, continuing
from localpay.services.witness.forks import agrees_with_peer, peer_note
from localpay.services.witness.metrics import WitnessMetrics
from localpay.services.witness.ports import Clock, FeedTransport, PeerTransport, WitnessRecords
from localpay.services.witness.protocol import witness_set
from localpay.services.witness.replay import WitnessReplayer, clock_limit, stored_block
from localpay.services.witness.settings import WitnessSettings

#: Fetched pages waiting to be re-executed, and verified blocks waiting to be written.
PIPELINE: Final = 3
#: While catching up, a checkpoint is cosigned at least this often.
SIGN_EVERY_S: Final = 1.0

log = structlog.get_logger("localpay.witness")


# -- the witness ----------------------------------------------------------------------------------


@dataclass
class _Page:
    prepared: list[Prepared]
    server_head: int


@dataclass
class _Write:
    record: BlockRecord
    cosign: bool


@dataclass
class _Halt:
    """The first bad block: raised as an alarm by the writer once every block verified
    before it is written (and its checkpoint cosigned as usual), so what this witness has
    signed does not depend on how far the writer lagged behind the re-execution."""

    alarm: Alarm


class Witness:
    """Follows one city's chain on one server; see the module's documentation."""

    def __init__(
        self,
        store: Store,
        key: nacl.signing.SigningKey,
        settings: WitnessSettings,
        *,
        records: WitnessRecords,
        feed: FeedTransport,
        peers: PeerTransport,
        clock: Clock,
        request_clock: Clock,
    ) -> None:
        """`clock` is the witness's own, the limit of block times and the time of what it
        signs and records; `request_clock` stamps its feed requests, which the server
        checks against its own (the wall clock: never a test's skewed one)."""
        self.store = store  # the witness's own copy of the chain
        self.records = records
        self.peers = peers
        self.key = key
        self.public = bytes(key.verify_key).hex()
        self.settings = settings
        self.city = settings.city
        self.clock = clock
        self.metrics = WitnessMetrics()
        self.feed = Feed(feed, self.city, key, request_clock)
        self.checker = EnvelopeChecker()
        self.alarm: RaisedAlarm | None = None
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._verified = -1  # height of the newest block written to the own store
        self._server_head = -1
        self._told_name: str | None = None
        self._signed_size = -1
        self._last_error = ""
        self._pending_post: tuple[int, str] | None = None
        self._cosigned_note: tuple[int, str] | None = None  # size, note with own line
        self._verified_size = 0  # log size after the newest block written
        self._last_sign = 0.0
        self._stop_requested = False
        self._writes: queue.Queue[_Write | _Halt | None] = queue.Queue(PIPELINE * 64)
        self.failure: BaseException | None = None

    # -- state for health --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "status": "alarm" if self.alarm else "ok",
                "city": self.city,
                "witness_key": self.public,
                "verified_height": self._verified,
                "server_height": self._server_head,
                "signed_size": self._signed_size,
            }
            if self.alarm:
                out.update(
                    reason=self.alarm.reason, detail=self.alarm.detail, height=self.alarm.height
                )
            if self._last_error:
                out["last_error"] = self._last_error
            return out

    @property
    def alarmed(self) -> bool:
        return self.alarm is not None

    def raise_alarm(self, alarm: Alarm) -> None:
        """Refuse the chain from now on: persist, log, expose; stop the pipeline."""
        with self._lock:
            if self.alarm is not None:
                return
            self.alarm = RaisedAlarm(alarm.reason, alarm.detail, alarm.height, self.clock())
        self.stopping.set()
        self.metrics.alarm.labels(alarm.reason).set(1)
        log.error(
            "witness_alarm",
            city=self.city,
            reason=alarm.reason,
            detail=alarm.detail,
            height=alarm.height,
            witness_key=self.public,
            action="refusing the chain: no more cosignatures for this city until an"
            " operator clears the alarm (docs/witnesses.md)",
        )
        try:
            self.records.replace_alarm(
                self.city,
                RaisedAlarm(alarm.reason, alarm.detail[:2000], alarm.height, self.clock()),
            )
        except Exception as exc:  # the alarm stands in memory; say the store failed too
            log.error("witness_alarm_not_stored", city=self.city, error=str(exc))

    def _refuse_pins(self, exc: PinMismatch) -> None:
        """Not the chain this witness was told to follow: not an alarm about the operator
        (the pins may be wrong), a stop with nothing written."""
        log.error("witness_pin_mismatch", city=self.city, error=str(exc))
        self._note_error(str(exc))
        self.failure = exc
        self.stopping.set()

    def _note_error(self, message: str) -> None:
        with self._lock:
            self._last_error = message

    # -- running ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Follow until stop() or an alarm. Holds the city's lease on the own store, so two
        witnesses (or a sequencer) never write one copy of the chain."""
        previous = self.records.alarm(self.city)
        if previous is not None:
            with self._lock:
                self.alarm = previous
            self.metrics.alarm.labels(previous.reason).set(1)
            log.error(
                "witness_alarm",
                city=self.city,
                reason=previous.reason,
                detail=previous.detail,
                height=previous.height,
                witness_key=self.public,
                action="raised earlier and not cleared: refusing to follow or sign",
            )
            return
        with self.store.lease(self.city):
            self._run_leased()

    def stop(self) -> None:
        self.stopping.set()

    def request_stop(self) -> None:
        """stop() for a signal handler: takes no lock (an Event's lock may be held by the
        very code the handler interrupted); the main loop acts on it within 0.5 s."""
        self._stop_requested = True

    def close(self) -> None:
        self.feed.close()
        self.peers.close()
        self.checker.close()

    def _run_leased(self) -> None:
        try:
            replayer = WitnessReplayer.resume(
                self.store, self.city, self.settings.pins, clock_limit(self.clock)
            )
        except PinMismatch as exc:  # its own copy is of another chain: sign nothing
            self._refuse_pins(exc)
            return
        head = self.store.head(self.city)
        signed = self.records.newest_signed_size(self.city)
        with self._lock:
            self._verified = head.height if head else -1
            self._verified_size = decode_header(head.header_bytes).log_size if head else 0
            self._signed_size = signed if signed is not None else -1
        self.metrics.height.set(self._verified)
        self.metrics.signed_size.set(self._signed_size)
        if head is not None:
            # Its own head was verified before it was written: (re)sign it and send the
            # line, which the server may have missed (a crash of either side between
            # writing, signing and posting). Same checkpoint, same root: never a new claim.
            header = msgspec.json.decode(head.header_bytes, type=BlockHeader)
            try:
                self._sign(header.height, header.log_size, header.log_root, head.checkpoint)
            except Alarm as alarm:  # the own copy disagrees with what it signed before
                self.raise_alarm(alarm)
                return
        log.info(
            "witness_started",
            city=self.city,
            follow=self.settings.follow,
            witness_key=self.public,
            verified_height=self._verified,
            signed_size=self._signed_size,
        )
        pages: queue.Queue[_Page | None] = queue.Queue(PIPELINE)
        writes = self._writes
        threads = [
            threading.Thread(
                target=self._guard(self._fetch_loop, pages),
                args=(head, pages),
                name="witness-feed",
                daemon=True,
            ),
            threading.Thread(
                target=self._guard(self._write_loop, None), name="witness-write", daemon=True
            ),
        ]
        if self.settings.peers:
            gossip = self._guard(self._gossip_loop, None)
            threads.append(threading.Thread(target=gossip, name="witness-gossip", daemon=True))
        for thread in threads:
            thread.start()
        try:
            self._apply_loop(replayer, pages, writes)
        finally:
            self.stopping.set()
            writer = threads[1]
            while writer.is_alive():  # the writer drains what was verified, then stops
                try:
                    writes.put(None, timeout=0.5)
                    break
                except queue.Full:
                    continue
            for thread in threads:
                thread.join()

    def _guard(
        self, loop: Callable[..., None], done: queue.Queue[_Page | None] | None
    ) -> Callable[..., None]:
        """A pipeline thread: an alarm raises it, any other failure stops the witness."""

        def run(*args: Any) -> None:
            try:
                loop(*args)
            except Alarm as alarm:
                self.raise_alarm(alarm)
            except Exception as exc:
                log.error("witness_failed", city=self.city, error=f"{type(exc).__name__}: {exc}")
                self._note_error(f"{type(exc).__name__}: {exc}")
                self.failure = exc
                self.stopping.set()
            finally:
                if done is not None:
                    with contextlib.suppress(queue.Full):
                        done.put_nowait(None)

        return run

    # -- stage 1: fetch, check continuity, decode and check signatures ------------------------

    def _fetch_loop(self, own_head: StoredBlock | None, pages: queue.Queue[_Page | None]) -> None:
        cursor = own_head.height + 1 if own_head else 0  # next height to take
        last_hash = own_head.hash if own_head else None  # what cursor - 1 must still be
        backoff = self.settings.poll_s
        next_audit = 0.0
        audit_from = 0
        while not self.stopping.is_set():
            if time.monotonic() >= next_audit and cursor > 1:
                with contextlib.suppress(FeedUnavailable):  # the main request says it
                    audit_from = self._audit(audit_from)
                next_audit = time.monotonic() + self.settings.audit_interval_s
            start = cursor - 1 if cursor > 0 else 0
            try:
                page = self.feed.page(start, self.settings.page_blocks)
            except FeedUnavailable as exc:
                self.metrics.feed_errors.inc()
                self._note_error(str(exc))
                log.warning("feed_unavailable", city=self.city, error=str(exc), retry_s=backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, WITNESS_BACKOFF_S_MAX)
                continue
            backoff = self.settings.poll_s
            self._note_error("")
            with self._lock:
                self._server_head = page.head
                self._told_name = page.witness or self._told_name
            self.metrics.server_height.set(page.head)
            items = continuing(page, cursor, last_hash, self.city, self.records)
            if items:
                prepared = prepared_now([stored_block(item) for item in items], self.checker)
                while not self.stopping.is_set():
                    try:
                        pages.put(_Page(prepared, page.head), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                cursor = items[-1].height + 1
                last_hash = prepared[-1].block.hash
            if page.next is None:
                self.stopping.wait(self.settings.poll_s)

    def _audit(self, start: int) -> int:
        """One page of the rolling audit (audit.py); the height to continue from."""
        with self._lock:
            top = self._verified
        return audit_page(
            self.feed, self.store, self.records, start, top, self.settings.page_blocks
        )

    # -- gossip: comparing notes with other witnesses ------------------------------------------

    def latest_cosigned(self) -> dict[str, Any] | None:
        """The newest checkpoint this witness co-signed: the operator's note with its line."""
        with self._lock:
            found = self._cosigned_note
        if found is None:
            return None
        return {"city": self.city, "size": found[0], "note": found[1]}

    def _gossip_loop(self) -> None:
        """Every audit interval, fetch each peer's newest co-signed checkpoint and check it
        against the own verified log (forks.py): a differing root raises the fork alarm."""
        while not self.stopping.wait(self.settings.audit_interval_s):
            for peer in self.settings.peers:
                note = peer_note(self.peers, self.city, peer)
                if not note:
                    continue
                with self._lock:
                    verified = self._verified_size
                if agrees_with_peer(self.store, self.city, peer, note, verified):
                    self.metrics.peer_checks.inc()

    # -- stage 2: re-execute ---------------------------------------------------------------------

    def _apply_loop(
        self,
        replayer: WitnessReplayer,
        pages: queue.Queue[_Page | None],
        writes: queue.Queue[_Write | _Halt | None],
    ) -> None:
        while True:
            if self._stop_requested:
                self.stop()
            try:
                page = pages.get(timeout=0.5)
            except queue.Empty:
                if self.stopping.is_set():
                    return
                continue
            if page is None or self.alarmed:
                return
            for n, prepared in enumerate(page.prepared):
                if self.alarmed:
                    return
                try:
                    record = replayer.apply_block(prepared)
                except PinMismatch as exc:
                    self._refuse_pins(exc)
                    return
                except ChainError as exc:
                    writes.put(_Halt(Alarm(classify(exc), str(exc), prepared.block.height)))
                    return
                self.metrics.transactions.inc(len(prepared.txs))
                writes.put(_Write(record, cosign=n == len(page.prepared) - 1))

    # -- stage 3: write, record, cosign, post ------------------------------------------------------

    def _write_loop(self) -> None:
        self._flush_post()
        while True:
            try:
                item = self._writes.get(timeout=1.0)
            except queue.Empty:
                self._flush_post()
                continue
            if item is None or self.alarmed:
                return
            if isinstance(item, _Halt):
                self.raise_alarm(item.alarm)
                return
            self.store.append_block(self.city, item.record)
            with self._lock:
                self._verified = item.record.header.height
                self._verified_size = item.record.header.log_size
            self.metrics.height.set(item.record.header.height)
            # Cosign the newest verified checkpoint: at the end of a page when nothing more
            # is waiting, and at least every SIGN_EVERY_S while catching up.
            lagging = time.monotonic() - self._last_sign > SIGN_EVERY_S
            if item.cosign and (self._writes.empty() or lagging):
                header = item.record.header
                self._sign(header.height, header.log_size, header.log_root, item.record.checkpoint)
                self._last_sign = time.monotonic()
            self._flush_post()

    def _sign(self, height: int, size: int, root: str, note: str) -> None:
        """Record, then cosign, a verified checkpoint; the line is posted by _flush_post."""
        signed = self.records.signed_root(self.city, size)
        if signed is not None and signed != root:
            raise Alarm(
                "checkpoint_inconsistent",
                f"block {height}: checkpoint of size {size} with root {root[:16]}…,"
                f" this witness signed {signed[:16]}… before",
                height,
            )
        if self.alarmed:
            return
        if signed is None:
            self.records.record_signed(self.city, size, root, self.clock())
        line = self._cosign(note)
        with self._lock:
            self._signed_size = max(self._signed_size, size)
        self.metrics.signed_size.set(size)
        self._pending_post = (size, line)
        with self._lock:
            self._cosigned_note = (size, note + line)

    def _cosign(self, note: str) -> str:
        body, _ = checkpoint.open_note(note)
        name = self._name()
        return checkpoint.cosign(body, name, bytes(self.key), self.clock() // 1000)

    def _name(self) -> str:
        """The key name on cosignatures: --name, else the name the server's feed says the
        city's current witness set gives this key (the own copy may not have reached the
        block that appointed it yet), else the name in the own copy's state."""
        if self.settings.name:
            return self.settings.name
        with self._lock:
            told = self._told_name
        if told:
            return told
        found = witness_set(self.store, self.city).witnesses.get(self.public)
        return found or f"witness-{self.public[:16]}"

    def _flush_post(self) -> None:
        pending = self._pending_post
        if pending is None or self.alarmed:
            return
        size, line = pending
        status, detail = self.feed.post_cosignature(size, line)
        self.metrics.posts.labels(str(status)).inc()
        if status in (200, 201):
            self._pending_post = None
            log.info(
                "cosigned",
                city=self.city,
                size=size,
                height=self._verified,
                posted=status,
                line=line.strip(),
            )
        elif status == 0 or status >= 500 or status == 429:
            log.warning("cosignature_not_delivered", city=self.city, size=size, error=detail)
        else:  # refused: not retried (a newer checkpoint will be signed and sent)
            self._pending_post = None
            log.warning(
                "cosignature_refused", city=self.city, size=size, status=status, detail=detail
            )
