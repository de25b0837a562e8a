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
with what the witness verified before:

=========================  ===========================================================
reason                     found when
=========================  ===========================================================
checkpoint_inconsistent    a checkpoint of a size it signed, with another root
history_rewritten          a block it verified is served with another hash or other
                           transactions; the chain got shorter; a block does not link
invalid_signature          an operator block or checkpoint signature, or a command's
replay_mismatch            a transaction's re-execution gives another result
merkle_mismatch            a block's transactions do not hash to its roots
gap                        missing or reordered heights or seqs
chain_invalid              a command of another city; anything else unreadable or
                           inconsistent
clock_skew                 a block's time is more than MAX_CLOCK_SKEW_MS (5 minutes)
                           ahead of the witness's own clock
fork                       a peer witness holds an operator-signed checkpoint whose root
                           differs from this witness's verified log at that size
=========================  ===========================================================

An alarm is a JSON log line at error level, `localpay_witness_alarm{reason}` = 1,
GET /healthz = 503 with the reason, and a row in the store's `witness_alarms`: from
then on the witness signs nothing for that city, across restarts, until an operator
clears it (`localpay witness-alarm --clear`). docs/witnesses.md says what to do.

Its progress is its store's head: after a restart of either side it resumes there,
asking the feed again for its own last block, which must come back unchanged. While
following, a rolling audit re-reads the history it already verified from the server
and compares it, block by block and byte for byte, with its own copy, so an in-place
edit of an old transaction is found too.

Speed: pages are fetched on one thread, their command signatures checked in worker
processes on every core (ledger/readahead.py: threads would wait for the GIL the
re-execution holds), while the previous page is re-executed on another thread and a
third writes the verified blocks: `witness_replay_per_s` measures the re-execution path.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import msgspec
import nacl.signing
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from localpay.adapters.clock import now_ms
from localpay.domain.commands import CreateCity
from localpay.ledger.blocks import BlockHeader, BlockRecord, TxRecord, decode_header
from localpay.ledger.chain import chain_origin, stored_genesis_hash
from localpay.ledger.log import checkpoint
from localpay.ledger.log.merkle_log import MerkleLog
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.readahead import prepared_blocks, prepared_now
from localpay.ledger.replay import ChainError, PinMismatch, Pins, Prepared, Replayer
from localpay.ledger.signatures import EnvelopeChecker
from localpay.services.witness.protocol import (
    FeedBlock,
    FeedPage,
    sign_feed_request,
    witness_set,
)

REASONS: Final = (
    "checkpoint_inconsistent",
    "history_rewritten",
    "invalid_signature",
    "replay_mismatch",
    "merkle_mismatch",
    "gap",
    "chain_invalid",
    "fork",
    "clock_skew",
)

#: Blocks asked for per feed page (the server also caps a page's transactions).
PAGE_BLOCKS: Final = 200
#: Wait between polls once the witness has reached the server's head.
POLL_S: Final = 0.25
#: Wait between two pages of the rolling audit of the history already verified.
AUDIT_INTERVAL_S: Final = 2.0
#: Fetched pages waiting to be re-executed, and verified blocks waiting to be written.
PIPELINE: Final = 3
#: While catching up, a checkpoint is cosigned at least this often.
SIGN_EVERY_S: Final = 1.0
#: Longest wait between retries while the server cannot be reached.
MAX_BACKOFF_S: Final = 5.0
#: How far a block's time may be ahead of the witness's own clock (ms). A sequencer seals
#: at its clock, so a block from further in the future means the operator's clock (or
#: its claim) is wrong: a block time pins every later block and decides expiries.
MAX_CLOCK_SKEW_MS: Final = 5 * 60 * 1000

log = structlog.get_logger("localpay.witness")


class Alarm(Exception):
    """The chain is inconsistent: the witness must not sign past this."""

    def __init__(self, reason: str, detail: str, height: int = -1) -> None:
        super().__init__(f"{reason}: {detail}")
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        self.height = height


class FeedUnavailable(RuntimeError):
    """The server did not answer with a page (down, restarting, refusing this witness)."""


def classify(error: ChainError) -> str:
    """The alarm reason of a replay failure (ledger/replay.py's messages)."""
    message = str(error)
    if "(clock skew)" in message:
        return "clock_skew"
    if "signature" in message or "not signed by the operator" in message:
        return "invalid_signature"
    if "recorded result" in message:
        return "replay_mismatch"
    if "expected block" in message or "out of place" in message or "header says" in message:
        return "gap"
    if "does not link" in message:
        return "history_rewritten"
    if "Merkle root" in message or "log root" in message:
        return "merkle_mismatch"
    return "chain_invalid"


# -- re-execution --------------------------------------------------------------------------------


class WitnessReplayer(Replayer):
    """ledger/replay.Replayer (every check of the sequencer and of the seal), with the
    witness's clock as the limit of block times, turning each block back into the
    BlockRecord (with the state entities it changed) the witness writes to its own store."""

    def apply_block(self, prepared: Prepared) -> BlockRecord:
        """Check and re-execute one block; raise ChainError, state then unusable."""
        self.apply(prepared)
        return self.record(prepared.block, prepared.txs)


def clock_limit(clock: Callable[[], int], skew_ms: int = MAX_CLOCK_SKEW_MS) -> Callable[[], int]:
    """The latest block time a witness accepts now: its own clock plus the skew."""
    return lambda: clock() + skew_ms


def _tx_spans(store: Store, city: str, blocks: Sequence[StoredBlock]) -> list[list[TxRecord]]:
    """The transactions of consecutive blocks, read by seq range (the primary key)."""
    headers = [msgspec.json.decode(b.header_bytes, type=BlockHeader) for b in blocks]
    if not headers:
        return []
    low = headers[0].log_size - headers[0].tx_count
    rows = list(store.txs(city, low, headers[-1].log_size))
    out, at = [], 0
    for header in headers:
        out.append(rows[at : at + header.tx_count])
        at += header.tx_count
    return out


def witness_replay_per_s(store: Store, city: str) -> float:
    """Transactions per second the witness's replay path verifies and re-executes over the
    chain of `city` in `store`: every check of a witness (links, hashes, operator and
    command signatures, results, roots, checkpoints) and the block records it writes,
    with the reads and signature checks ahead in worker processes; the writes themselves
    are not timed."""
    checker = EnvelopeChecker()
    replayer = WitnessReplayer(city)
    try:
        begin = time.perf_counter()
        for prepared in prepared_blocks(store, city, checker):
            replayer.apply_block(prepared)
        elapsed = time.perf_counter() - begin
    finally:
        checker.close()
    return replayer.txs_replayed / elapsed if elapsed > 0 else 0.0


# -- the witness's own records -----------------------------------------------------------------


def signed_checkpoints(store: Store, city: str) -> dict[int, str]:
    """Every checkpoint this store's witness cosigned: size -> root (hex)."""
    rows = store.sql("SELECT size, root FROM witness_signed WHERE city = ?", (city,))
    return {int(size): str(root) for size, root in rows}


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


@dataclass(frozen=True)
class RaisedAlarm:
    reason: str
    detail: str
    height: int
    raised_ms: int


def stored_alarm(store: Store, city: str) -> RaisedAlarm | None:
    rows = store.sql(
        "SELECT reason, detail, height, raised_ms FROM witness_alarms WHERE city = ?", (city,)
    )
    if not rows:
        return None
    reason, detail, height, raised = rows[0]
    return RaisedAlarm(str(reason), str(detail), int(height), int(raised))


def clear_alarm(store: Store, city: str) -> RaisedAlarm | None:
    """The operator's intervention: forget the city's alarm (returned), so the witness
    follows and signs again when restarted."""
    found = stored_alarm(store, city)
    store.sql("DELETE FROM witness_alarms WHERE city = ?", (city,))
    return found


# -- metrics and health ---------------------------------------------------------------------------


class WitnessMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alarm = Gauge(
            "localpay_witness_alarm",
            "1 while the witness refuses the city's chain, by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in REASONS:
            self.alarm.labels(reason).set(0)
        self.height = Gauge(
            "localpay_witness_verified_height",
            "Height of the newest block verified and stored",
            registry=self.registry,
        )
        self.server_height = Gauge(
            "localpay_witness_server_height",
            "Height of the server's newest block, as last seen",
            registry=self.registry,
        )
        self.signed_size = Gauge(
            "localpay_witness_signed_size",
            "Tree size of the newest checkpoint cosigned",
            registry=self.registry,
        )
        self.transactions = Counter(
            "localpay_witness_transactions",
            "Transactions re-executed",
            registry=self.registry,
        )
        self.posts = Counter(
            "localpay_witness_cosignature_posts",
            "Cosignatures posted, by HTTP status (0: not delivered)",
            ["status"],
            registry=self.registry,
        )
        self.peer_checks = Counter(
            "localpay_witness_peer_checks",
            "Peers' co-signed checkpoints found to agree with the own copy",
            registry=self.registry,
        )
        self.feed_errors = Counter(
            "localpay_witness_feed_errors",
            "Feed requests that got no page",
            registry=self.registry,
        )


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    witness: Witness

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/healthz":
            status = self.witness.status()
            code = 503 if status["status"] == "alarm" else 200
            self._send(code, "application/json", json.dumps(status).encode())
        elif self.path.split("?")[0] == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.witness.metrics.registry))
        elif self.path.split("?")[0] == "/checkpoint":
            # Gossip: the newest checkpoint this witness co-signed, for peers to compare.
            latest = self.witness.latest_cosigned()
            if latest is None:
                self._send(404, "application/json", b'{"status":"nothing co-signed yet"}')
            else:
                self._send(200, "application/json", json.dumps(latest).encode())
        else:
            self._send(404, "application/json", b'{"status":"not found"}')

    def _send(self, code: int, media_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # health probes are not worth a log line each


def serve_health(witness: Witness, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """GET /healthz (200, or 503 with the alarm) and /metrics on host:port, in a thread."""
    handler = type("HealthHandler", (_HealthHandler,), {"witness": witness})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="witness-health", daemon=True).start()
    return server


# -- talking to the server ------------------------------------------------------------------------


class Feed:
    """The server's chain feed and cosignature endpoint, as seen by one witness."""

    def __init__(
        self,
        base_url: str,
        city: str,
        key: nacl.signing.SigningKey,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.city = city
        self.key = key
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self._decoder = msgspec.json.Decoder(FeedPage)

    def page(self, from_height: int, limit: int) -> FeedPage:
        headers = sign_feed_request(self.key, self.city, from_height, limit, now_ms())
        try:
            response = self.http.get(
                f"/v1/cities/{self.city}/feed",
                params={"from_height": from_height, "limit": limit},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise FeedUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            return self._decoder.decode(response.content)
        except msgspec.MsgspecError as exc:
            raise FeedUnavailable(f"not a feed page: {exc}") from None

    def post_cosignature(self, size: int, line: str) -> tuple[int, str]:
        """(HTTP status, detail); status 0 when the server could not be reached."""
        try:
            response = self.http.post(
                f"/v1/cities/{self.city}/checkpoints/{size}/cosignatures",
                json={"line": line.removesuffix("\n")},
            )
        except httpx.HTTPError as exc:
            return 0, f"{type(exc).__name__}: {exc}"
        detail = "" if response.status_code < 300 else response.text[:300]
        return response.status_code, detail

    def close(self) -> None:
        self.http.close()


def stored_block(item: FeedBlock) -> tuple[StoredBlock, list[TxRecord]]:
    """A feed item as the block and transactions the witness checks (exact bytes)."""
    try:
        block_hash, signature = bytes.fromhex(item.hash), bytes.fromhex(item.signature)
    except ValueError:
        raise Alarm(
            "chain_invalid", f"block {item.height}: hash or signature not hex", item.height
        ) from None
    block = StoredBlock(
        item.height, item.header.encode(), block_hash, signature, item.checkpoint, []
    )
    txs = [
        TxRecord(t.seq, t.height, t.id, t.kind, t.envelope.encode(), t.result.encode())
        for t in item.txs
    ]
    return block, txs


def _note_point(note: str) -> checkpoint.Checkpoint | None:
    try:
        return checkpoint.parse_checkpoint(checkpoint.open_note(note)[0])
    except checkpoint.NoteError:
        return None


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
class WitnessSettings:
    city: str
    follow: str
    name: str | None = None
    page_blocks: int = PAGE_BLOCKS
    poll_s: float = POLL_S
    audit_interval_s: float = AUDIT_INTERVAL_S
    timeout_s: float = 30.0
    # Other witnesses' health addresses (http://host:port): their newest co-signed
    # checkpoints are compared with this witness's own copy (gossip; see _gossip_loop).
    peers: tuple[str, ...] = ()
    # The chain this witness vouches for, learned from the city out of band (docs/
    # operations.md): another genesis or operator key stops it before anything is written.
    pins: Pins = field(default_factory=Pins)


class Witness:
    """Follows one city's chain on one server; see the module's documentation."""

    def __init__(
        self,
        store: Store,
        key: nacl.signing.SigningKey,
        settings: WitnessSettings,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.key = key
        self.public = bytes(key.verify_key).hex()
        self.settings = settings
        self.city = settings.city
        self.clock = clock
        self.metrics = WitnessMetrics()
        self.feed = Feed(settings.follow, self.city, key, settings.timeout_s, transport)
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
        self._writes: queue.Queue[_Write | None] = queue.Queue(PIPELINE * 64)
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
            self.store.sql_batch(
                [
                    ("DELETE FROM witness_alarms WHERE city = ?", (self.city,)),
                    (
                        "INSERT INTO witness_alarms (city, reason, detail, height, raised_ms)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (self.city, alarm.reason, alarm.detail[:2000], alarm.height, self.clock()),
                    ),
                ]
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
        previous = stored_alarm(self.store, self.city)
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
        signed = self.store.sql(
            "SELECT size, root FROM witness_signed WHERE city = ? ORDER BY size DESC LIMIT 1",
            (self.city,),
        )
        with self._lock:
            self._verified = head.height if head else -1
            self._verified_size = decode_header(head.header_bytes).log_size if head else 0
            self._signed_size = int(signed[0][0]) if signed else -1
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
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = self.settings.poll_s
            self._note_error("")
            with self._lock:
                self._server_head = page.head
                self._told_name = page.witness or self._told_name
            self.metrics.server_height.set(page.head)
            items = self._continuing(page, cursor, last_hash)
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

    def _continuing(self, page: FeedPage, cursor: int, last_hash: bytes | None) -> list[FeedBlock]:
        """The page's new blocks, after checking that it continues the chain already taken."""
        items = list(page.items)
        if cursor > 0:
            if page.head < cursor - 1:
                raise Alarm(
                    "history_rewritten",
                    f"the server's chain ends at block {page.head}, below block {cursor - 1}"
                    " that this witness already verified",
                    page.head,
                )
            if not items or items[0].height != cursor - 1:
                got = items[0].height if items else "nothing"
                raise Alarm("gap", f"asked for block {cursor - 1}, got {got}", cursor - 1)
            overlap = items.pop(0)
            if overlap.hash != (last_hash or b"").hex():
                self._check_signed(overlap)
                raise Alarm(
                    "history_rewritten",
                    f"block {overlap.height} is now served with hash {overlap.hash[:16]}…,"
                    f" this witness verified {(last_hash or b'').hex()[:16]}…",
                    overlap.height,
                )
        expected = cursor
        for item in items:
            if item.height != expected:
                raise Alarm("gap", f"expected block {expected}, got {item.height}", expected)
            expected += 1
        return items

    def _check_signed(self, item: FeedBlock) -> None:
        """A checkpoint of a size this witness signed must have the root it signed."""
        point = _note_point(item.checkpoint)
        if point is None:
            return
        signed = self._signed_root(point.size)
        if signed is not None and signed != point.root.hex():
            raise Alarm(
                "checkpoint_inconsistent",
                f"block {item.height}: the checkpoint of size {point.size} now has root"
                f" {point.root.hex()[:16]}…, this witness signed {signed[:16]}…",
                item.height,
            )

    def _signed_root(self, size: int) -> str | None:
        """The root (hex) this witness co-signed for `size`, if it did."""
        rows = self.store.sql(
            "SELECT root FROM witness_signed WHERE city = ? AND size = ?", (self.city, size)
        )
        return str(rows[0][0]) if rows else None

    def _audit(self, start: int) -> int:
        """Compare one page of the server's history below the own head with the own copy,
        byte for byte; the height to continue from (0 after the own head: a new round)."""
        with self._lock:
            top = self._verified
        if top < 0:
            return 0
        start = start if start <= top else 0
        page = self.feed.page(start, min(self.settings.page_blocks, top - start + 1))
        items = [i for i in page.items if i.height <= top]
        if page.head < top:
            raise Alarm(
                "history_rewritten",
                f"the server's chain ends at block {page.head}, below block {top}"
                " that this witness verified",
                page.head,
            )
        if not items:
            return 0
        own = {b.height: b for b in self.store.blocks(self.city, items[0].height, top + 1)}
        own_txs = _tx_spans(
            self.store, self.city, [own[i.height] for i in items if i.height in own]
        )
        by_height = dict(zip([i.height for i in items if i.height in own], own_txs, strict=True))
        expected = start
        for item in items:
            if item.height != expected:
                raise Alarm("gap", f"audit: expected block {expected}, got {item.height}", expected)
            expected += 1
            mine = own.get(item.height)
            if mine is None:
                continue
            self._check_signed(item)
            if (
                item.header.encode() != mine.header_bytes
                or item.hash != mine.hash.hex()
                or item.signature != mine.signature.hex()
                or item.checkpoint != mine.checkpoint
            ):
                raise Alarm(
                    "history_rewritten",
                    f"block {item.height} is now served with another header, hash, signature"
                    " or checkpoint than the one this witness verified",
                    item.height,
                )
            theirs = [
                (t.seq, t.height, t.id, t.kind, t.envelope.encode(), t.result.encode())
                for t in item.txs
            ]
            ours = [
                (t.seq, t.height, t.id, t.kind, t.envelope, t.result)
                for t in by_height[item.height]
            ]
            if theirs != ours:
                where = next(
                    (str(a[0]) for a, b in zip(theirs, ours, strict=False) if a != b),
                    f"count {len(theirs)} != {len(ours)}",
                )
                raise Alarm(
                    "history_rewritten",
                    f"block {item.height}: its transactions are now served differently from"
                    f" the ones this witness verified (first difference: tx {where})",
                    item.height,
                )
        last = items[-1].height
        return last + 1 if last < top else 0

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
        against the own verified log. A witness alone cannot see a fork (the operator
        shows it one consistent history); two that compare notes can: an operator-signed
        checkpoint whose root differs from the own log at that size is the proof."""
        with httpx.Client(timeout=self.settings.timeout_s) as client:
            while not self.stopping.wait(self.settings.audit_interval_s):
                for peer in self.settings.peers:
                    try:
                        response = client.get(f"{peer.rstrip('/')}/checkpoint")
                        note = str(response.json()["note"]) if response.status_code == 200 else ""
                    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                        log.warning("peer_unavailable", city=self.city, peer=peer, error=str(exc))
                        continue
                    if note:
                        self._compare_peer(peer, note)

    def _compare_peer(self, peer: str, note: str) -> None:
        raw = self.store.state_value(self.city, "g")
        if raw is None:
            return
        genesis = msgspec.json.decode(raw, type=CreateCity)
        genesis_hash = stored_genesis_hash(self.store, self.city)
        if genesis_hash is None:
            return
        origin = chain_origin(self.city, genesis_hash)
        try:
            body, sigs = checkpoint.open_note(note)
            point = checkpoint.parse_checkpoint(body)
        except checkpoint.NoteError as exc:
            log.warning("peer_note_unreadable", city=self.city, peer=peer, error=str(exc))
            return
        operator = bytes.fromhex(genesis.operator_key)
        if point.origin != origin or not any(
            checkpoint.verify_note_signature(body, sig, origin, operator) for sig in sigs
        ):
            # Not this city's log, or not signed by its operator: proves nothing.
            log.warning("peer_note_not_the_operators", city=self.city, peer=peer)
            return
        with self._lock:
            verified = self._verified_size
        if point.size > verified or point.size == 0:
            return  # compared in a later round, once the own copy has reached it
        own = self._own_root(point.size)
        if own == point.root:
            self.metrics.peer_checks.inc()
        else:
            raise Alarm(
                "fork",
                f"peer {peer} holds the operator's checkpoint of size {point.size} with root"
                f" {point.root.hex()}; the log this witness verified has root {own.hex()} at"
                f" that size: the operator signed two histories. The peer's note: {note!r}",
            )

    def _own_root(self, size: int) -> bytes:
        """The root of the own verified log at `size`: from the block that ends there, or
        (a size no own block ends at: already a sign of another history) from the leaves."""
        last = list(self.store.txs(self.city, size - 1, size))
        if last:
            block = next(iter(self.store.blocks(self.city, last[0].height, last[0].height + 1)))
            header = decode_header(block.header_bytes)
            if header.log_size == size:
                return bytes.fromhex(header.log_root)
        return MerkleLog(self.store.leaf_hashes(self.city, 0, size)).root(size)

    # -- stage 2: re-execute ---------------------------------------------------------------------

    def _apply_loop(
        self,
        replayer: WitnessReplayer,
        pages: queue.Queue[_Page | None],
        writes: queue.Queue[_Write | None],
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
                    self.raise_alarm(Alarm(classify(exc), str(exc), prepared.block.height))
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
        signed = self._signed_root(size)
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
            self.store.sql(
                "INSERT INTO witness_signed (city, size, root, signed_ms) VALUES (?, ?, ?, ?)",
                (self.city, size, root, self.clock()),
            )
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
