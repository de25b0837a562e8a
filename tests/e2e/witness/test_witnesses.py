"""Witnesses as separate processes: they re-execute the chain, co-sign it, and catch lies.

A city is created in a SQLite store with three witnesses set on the chain by a
`set_witnesses` command signed by two officials (quorum 2 of 3). `localpay serve` runs
as a child process on a free loopback port; three `localpay witness` processes, each
with its own SQLite store and key (made with `localpay witness-key new`), follow it
while pre-signed payments arrive through `localpay.client`. Then:

* every witness co-signs, checkpoints become final, each witness's own store passes
  `localpay verify`, and they resume after a restart of either side;
* the operator's history is rewritten in the server's database (an edited envelope, a
  dropped transaction, two swapped, a block re-sealed after its checkpoint was
  co-signed): every witness refuses with an alarm (GET /healthz 503 with the reason, an
  error log line, the Prometheus gauge) and co-signs nothing after;
* a forked operator (two servers from copies of one database that then diverge) shows
  two witnesses two roots for one size: comparing their records exposes it, and the two
  operator-signed checkpoints are the proof.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nacl.signing
import pytest

from localpay.adapters.clock import now_ms as _now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.witness import SqlWitnessRecords
from localpay.bootstrap import new_witness, open_identity, open_store
from localpay.client import Client
from localpay.domain import commands as c
from localpay.ledger.blocks import decode_header
from localpay.ledger.chain import ChainHead, seal, stored_genesis_hash
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.services.cities.verify import verify_city
from localpay.services.transparency.service import Transparency
from localpay.services.transparency.verifier import verify_receipt
from localpay.services.witness.forks import find_forks, fork_proof
from localpay.services.witness.protocol import sign_feed_request
from localpay.services.witness.replay import witness_replay_per_s
from localpay.services.witness.settings import WitnessSettings
from localpay.sim.bench import BenchCity
from localpay.testing.servers import free_port

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLETS = 60
MERCHANTS = 4
LOAD = 400
AUDITOR_PASSWORD = "witness-test-auditor-2026"
WAIT_S = 60.0

# The `localpay` command, run by the interpreter of the test session.
LOCALPAY = "from localpay.entrypoints.cli.main import app; app()"


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def localpay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOCALPAY, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- processes ------------------------------------------------------------------------------


@dataclass
class Process:
    argv: list[str]
    log: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str) -> Process:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
                env={**os.environ, **self.env},
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.argv[3:5]} exited: {self.log_text()[-2000:]}")
            return httpx.get(self.base + ready_path, timeout=2).status_code in (200, 503)

        wait_for(ready, f"{self.log.name} to listen")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def server(db: Path, keys: Path, logs: Path, port: int | None = None) -> Process:
    port = port or free_port()
    argv = [sys.executable, "-c", LOCALPAY, "--keys", str(keys), "serve"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = logs / f"server-{db.stem}.log"
    return Process(argv, log, port, {"LOCALPAY_DB": f"sqlite:///{db}"}).start("/readyz")


def witness(
    n: int,
    key: Path,
    db: Path,
    follow: str,
    logs: Path,
    port: int | None = None,
    peers: tuple[str, ...] = (),
) -> Process:
    port = port or free_port()
    argv = [sys.executable, "-c", LOCALPAY, "witness", "--city", CITY, "--follow", follow]
    argv += ["--key", str(key), "--db", f"sqlite:///{db}", "--listen", f"127.0.0.1:{port}"]
    argv += ["--poll", "0.1", "--audit-interval", "0.3"]
    for peer in peers:
        argv += ["--peer", peer]
    return Process(argv, logs / f"witness-{n}-{db.stem}.log", port).start("/healthz")


def health(w: Process) -> dict[str, Any]:
    r = httpx.get(w.base + "/healthz", timeout=5)
    body: dict[str, Any] = r.json()
    assert (r.status_code == 503) == (body["status"] == "alarm"), (r.status_code, body)
    return body


def peer_checks(w: Process) -> float:
    """Peers' checkpoints the witness compared with its copy and found in agreement."""
    for line in httpx.get(w.base + "/metrics", timeout=5).text.splitlines():
        if line.startswith("localpay_witness_peer_checks_total "):
            return float(line.split()[1])
    return 0.0


def latest(base: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{base}/v1/cities/{CITY}/checkpoints?limit=1").json()
    return dict(found["items"][0])


def pay(base: str, envelopes: list[bytes], threads: int = 4) -> None:
    work = iter(envelopes)
    lock = threading.Lock()
    errors: list[str] = []

    def send() -> None:
        client = Client(base, CITY, timeout=30)
        try:
            while True:
                with lock:
                    envelope = next(work, None)
                if envelope is None:
                    return
                receipt = client.send("payments", envelope)
                if receipt["code"] != "ok":
                    errors.append(str(receipt))
        finally:
            client.close()

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert not errors, errors[:3]


def all_cosigned(base: str, witnesses: list[Process]) -> dict[str, Any] | None:
    """The latest checkpoint once every witness has verified and co-signed it."""
    view = latest(base)
    sizes = {health(w)["signed_size"] for w in witnesses}
    if sizes == {view["size"]} and view["cosignatures"] == len(witnesses):
        return view
    return None


# -- the city ------------------------------------------------------------------------------


@dataclass
class Pristine:
    """A city, its server's store and three witnesses' stores, all in step (all stopped)."""

    root: Path
    keys: Path
    server_db: Path
    witness_dbs: list[Path]
    witness_keys: list[Path]
    witness_pubs: list[str]
    spare: list[bytes]  # pre-signed payments not on the chain yet
    head: dict[str, Any]  # the latest checkpoint once all had co-signed
    logs: list[str]
    operator_key: str


def _build_city(db: Path, keys: Path, witness_pubs: list[str]) -> tuple[list[bytes], str]:
    store = open_store(f"sqlite:///{db}")
    ledgers = Ledgers(store, KeyStore(keys), _now_ms)
    try:
        bench = BenchCity(ledgers, CITY)
        bench.set_up(wallets=WALLETS, merchants=MERCHANTS)
        genesis = ledgers.sequencer(CITY).state.genesis
        assert genesis is not None
        signer = OfficialSigner(ledgers.keys, CITY, dict(genesis.approvals))
        command = c.SetWitnesses(
            id=new_id(),
            city=CITY,
            witnesses=[
                c.Witness(name=f"witness-{n}.example", key=key)
                for n, key in enumerate(witness_pubs)
            ],
            quorum=2,
        )
        envelope = signer.sign(command)
        assert len(c.decode_envelope(envelope)[0].sigs) == 2  # maker and checker
        assert ledgers.execute(CITY, envelope).ok
        open_identity(store, _now_ms).create_user(CITY, "city_auditor", "auditor", AUDITOR_PASSWORD)
        payments = bench.payments(LOAD + 400)
        operator = genesis.operator_key
    finally:
        ledgers.close()
        store.close()
    return payments, operator


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pristine]:
    root = tmp_path_factory.mktemp("witnesses")
    keys, logs = root / "keys", root / "logs"
    logs.mkdir()
    witness_keys = [root / f"witness-{n}.key" for n in range(3)]
    pubs = []
    for path in witness_keys:
        made = localpay("witness-key", "new", "--out", str(path))
        assert made.returncode == 0, made.stderr
        pubs.append(made.stdout.strip())
        assert len(pubs[-1]) == 64 and (path.stat().st_mode & 0o777) == 0o600
    again = localpay("witness-key", "new", "--out", str(witness_keys[0]))
    assert again.returncode == 2 and "never overwritten" in again.stderr

    server_db = root / "server.db"
    payments, operator = _build_city(server_db, keys, pubs)
    witness_dbs = [root / f"witness-{n}.db" for n in range(3)]
    srv = server(server_db, keys, logs)
    ws: list[Process] = []
    try:
        # Each witness gossips with the next: honest peers must never raise an alarm.
        ports = [free_port() for _ in range(3)]
        peers = [f"http://127.0.0.1:{p}" for p in ports]
        ws = [
            witness(n, witness_keys[n], witness_dbs[n], srv.base, logs, ports[n], (peers[n - 1],))
            for n in range(3)
        ]
        pay(srv.base, payments[:LOAD])
        head = wait_for(lambda: all_cosigned(srv.base, ws), "every witness to co-sign the head")
        wait_for(lambda: all(peer_checks(w) > 0 for w in ws), "gossip to compare checkpoints")
    finally:
        for w in ws:
            w.stop()
        srv.stop()
    yield Pristine(
        root,
        keys,
        server_db,
        witness_dbs,
        witness_keys,
        pubs,
        payments[LOAD:],
        head,
        [w.log_text() for w in ws],
        operator,
    )


def clone(p: Pristine, dest: Path, servers: int = 1) -> tuple[list[Path], list[Path]]:
    """Copies of the server's store (one per server) and of the witnesses' stores."""
    dest.mkdir(parents=True, exist_ok=True)
    srv = []
    for n in range(servers):
        target = dest / f"server-{n}.db"
        shutil.copy(p.server_db, target)
        srv.append(target)
    wit = []
    for db in p.witness_dbs:
        shutil.copy(db, dest / db.name)
        wit.append(dest / db.name)
    return srv, wit


def log_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# -- 1. following, co-signing, finality, restarts ---------------------------------------------


def test_every_witness_cosigns_and_checkpoints_become_final(pristine: Pristine) -> None:
    head = pristine.head
    assert head["final"] and head["cosignatures"] == 3 and head["quorum"] == 2
    names = {s["name"] for s in head["signers"] if s["role"] == "witness"}
    assert names == {f"witness-{n}.example" for n in range(3)}
    for n, text in enumerate(pristine.logs):
        cosigned = [e for e in log_lines(text) if e.get("event") == "cosigned"]
        assert cosigned, f"witness {n} logged no cosignature"
        assert cosigned[-1]["size"] == head["size"] and cosigned[-1]["posted"] in (200, 201)
        assert not [e for e in log_lines(text) if e.get("level") == "error"]
    for db in pristine.witness_dbs:
        checked = localpay("--db", f"sqlite:///{db}", "verify")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"{head['size']:,} transactions replayed, state matches" in checked.stdout
        store = open_store(f"sqlite:///{db}")
        try:
            signed = SqlWitnessRecords(store).signed_checkpoints(CITY)
            assert signed[head["size"]] == head["root"]
        finally:
            store.close()


def test_witnesses_resume_after_either_side_restarts(pristine: Pristine, tmp_path: Path) -> None:
    (server_db,), wdbs = clone(pristine, tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = server(server_db, pristine.keys, logs)
    ws: list[Process] = []
    try:
        ws = [witness(n, pristine.witness_keys[n], wdbs[n], srv.base, logs) for n in range(3)]
        _check_feed(srv.base, pristine)
        ws[0].stop(signal.SIGKILL)  # a witness dies...
        pay(srv.base, pristine.spare[:100])
        srv.stop()  # ...and the server restarts on the same port while the others wait
        srv = server(server_db, pristine.keys, logs, srv.port)
        pay(srv.base, pristine.spare[100:200])
        ws[0] = witness(0, pristine.witness_keys[0], wdbs[0], srv.base, logs)
        head = wait_for(lambda: all_cosigned(srv.base, ws), "every witness to catch up")
        assert head["final"] and head["size"] == pristine.head["size"] + 200
        assert all(health(w)["status"] == "ok" for w in ws)
        unavailable = [e for e in log_lines(ws[1].log_text()) if e["event"] == "feed_unavailable"]
        assert unavailable, "the server's restart went unnoticed"
    finally:
        for w in ws:
            w.stop()
        srv.stop()
    store = open_store(f"sqlite:///{wdbs[0]}")
    try:
        report = verify_city(store, CITY)
        assert report.ok and report.txs == head["size"], report.problems
    finally:
        store.close()


def test_a_witness_keeps_its_copy_in_any_store(
    pristine: Pristine, tmp_path: Path, store_url: str
) -> None:
    """The witness's own store may be SQLite or PostgreSQL (here it runs in-process)."""
    (server_db,), _ = clone(pristine, tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = server(server_db, pristine.keys, logs)
    store = open_store(store_url)
    key = nacl.signing.SigningKey(bytes.fromhex(pristine.witness_keys[2].read_text().strip()))
    follower = new_witness(store, key, WitnessSettings(city=CITY, follow=srv.base, poll_s=0.1))
    thread = threading.Thread(target=follower.run, daemon=True)
    try:
        thread.start()
        size = pristine.head["size"]
        wait_for(lambda: follower.status()["signed_size"] == size, "the witness to catch up")
        assert latest(srv.base)["cosignatures"] == 3
    finally:
        follower.stop()
        thread.join(30)
        follower.close()
        srv.stop()
    try:
        report = verify_city(store, CITY)
        assert report.ok and report.txs == size, report.problems
        signed = SqlWitnessRecords(store).signed_checkpoints(CITY)
        assert signed[size] == pristine.head["root"] and max(signed) == size
        assert SqlWitnessRecords(store).alarm(CITY) is None
        assert witness_replay_per_s(store, CITY) > 0
    finally:
        store.close()


def _check_feed(base: str, p: Pristine) -> None:
    """The feed: exact bytes, and only for witnesses (signed requests) and the city's staff."""
    url = f"{base}/v1/cities/{CITY}/feed"
    seed = bytes.fromhex(p.witness_keys[1].read_text().strip())
    wkey = nacl.signing.SigningKey(seed)
    headers = sign_feed_request(wkey, CITY, 0, 3, _now_ms())
    r = httpx.get(url, params={"from_height": 0, "limit": 3}, headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [b["height"] for b in page["items"]] == [0, 1, 2] and page["next"] == 3
    for block in page["items"]:
        digest = hashlib.sha256(b"localpay/block/v1\n" + block["header"].encode()).hexdigest()
        assert digest == block["hash"]  # the header text is the hashed bytes, exactly
        assert decode_header(block["header"].encode()).tx_count == len(block["txs"])
    genesis = c.decode_envelope(page["items"][0]["txs"][0]["envelope"].encode())[1]
    assert isinstance(genesis, c.CreateCity) and genesis.operator_key == p.operator_key
    # The same signed request for another page, a stale one, an outsider's key: refused.
    other = httpx.get(url, params={"from_height": 1, "limit": 3}, headers=headers)
    assert other.status_code == 401
    stale = sign_feed_request(wkey, CITY, 0, 3, _now_ms() - 3_600_000)
    assert httpx.get(url, params={"from_height": 0, "limit": 3}, headers=stale).status_code == 401
    outsider = sign_feed_request(nacl.signing.SigningKey.generate(), CITY, 0, 3, _now_ms())
    r = httpx.get(url, params={"from_height": 0, "limit": 3}, headers=outsider)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert httpx.get(url).status_code == 401
    login = httpx.post(
        f"{base}/v1/auth/login",
        json={"city": CITY, "username": "auditor", "password": AUDITOR_PASSWORD},
    )
    token = login.json()["token"]
    r = httpx.get(url, params={"limit": 2}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


# -- 2. a rewritten history ------------------------------------------------------------------


@contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection]:
    """The server's SQLite file opened directly, as an operator with shell access would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _pays(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    rows = conn.execute(
        "SELECT seq, height FROM txs WHERE city = ? AND kind = 'pay' ORDER BY seq", (CITY,)
    ).fetchall()
    return [(int(s), int(h)) for s, h in rows]


def _edit_pay(db: Path, column: str, nth: int, old: bytes, new: bytes) -> int:
    """One old payment's stored `column` edited in place (1/nth of the way along)."""
    with _db(db) as conn:
        seq, _ = _pays(conn)[len(_pays(conn)) // nth]
        (value,) = conn.execute(
            f"SELECT {column} FROM txs WHERE city = ? AND seq = ?", (CITY, seq)
        ).fetchone()
        edited = bytes(value).replace(old, new, 1)
        conn.execute(f"UPDATE txs SET {column} = ? WHERE city = ? AND seq = ?", (edited, CITY, seq))
    return int(seq)


def edit_envelope(db: Path, keys: Path) -> int:
    """An old payment's amount changed in place (its signature no longer matches)."""
    return _edit_pay(db, "envelope", 3, b'"amount":', b'"amount":9')


def drop_tx(db: Path, keys: Path) -> int:
    """An old payment deleted."""
    with _db(db) as conn:
        seq, _ = _pays(conn)[len(_pays(conn)) // 2]
        conn.execute("DELETE FROM txs WHERE city = ? AND seq = ?", (CITY, seq))
    return seq


def swap_txs(db: Path, keys: Path) -> int:
    """Two payments of one block swapped in the log."""
    with _db(db) as conn:
        pays = _pays(conn)
        middle = pays[len(pays) // 2 :]
        a, b = next((x, y) for x, y in itertools.pairwise(middle) if x[1] == y[1])
        conn.execute("BEGIN")
        conn.execute("UPDATE txs SET seq = -1 WHERE city = ? AND seq = ?", (CITY, a[0]))
        conn.execute("UPDATE txs SET seq = ? WHERE city = ? AND seq = ?", (a[0], CITY, b[0]))
        conn.execute("UPDATE txs SET seq = ? WHERE city = ? AND seq = -1", (b[0], CITY))
        conn.execute("COMMIT")
    return a[0]


def rewrite_block(db: Path, keys: Path) -> int:
    """The head block, whose checkpoint the witnesses co-signed, re-sealed and re-signed by
    the operator with a different result for its last payment: same size, another root."""
    store = open_store(f"sqlite:///{db}")
    try:
        head = store.head(CITY)
        assert head is not None
        previous = next(iter(store.blocks(CITY, head.height - 1, head.height)))
        genesis_hash = stored_genesis_hash(store, CITY)
        assert genesis_hash is not None
        txs = store.block_txs(CITY, head.height)
        last = txs[-1]
        lied = other_result(last.result)
        assert lied != last.result
        txs[-1] = msgspec.structs.replace(last, result=lied)
        operator = KeyStore(keys).load(CITY, "operator")
        time_ms = decode_header(head.header_bytes).time_ms
        record = seal(ChainHead.after(CITY, previous, genesis_hash), time_ms, txs, [], operator)
    finally:
        store.close()
    with _db(db) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE blocks SET header = ?, hash = ?, signature = ?, checkpoint = ?, frontier = ?"
            " WHERE city = ? AND height = ?",
            (
                record.header_bytes,
                record.hash,
                record.signature,
                record.checkpoint,
                msgspec.json.encode([h.hex() for h in record.frontier]),
                CITY,
                head.height,
            ),
        )
        conn.execute("UPDATE txs SET result = ? WHERE city = ? AND seq = ?", (lied, CITY, last.seq))
        conn.execute("COMMIT")
    return int(last.seq)


def edit_result(db: Path, keys: Path) -> int:
    """An old payment's recorded result changed in place (another lot drawn)."""
    return _edit_pay(db, "result", 4, b'"lots":[["', b'"lots":[["f')


def other_result(result: bytes) -> bytes:
    """A different, well-formed recorded result: another lot, or lots where none were.
    (Results state no balance to change: docs/transparency.md.)"""
    if b'"lots":[["' in result:
        return result.replace(b'"lots":[["', b'"lots":[["f', 1)
    return result[:-1] + b',"lots":[]}'


TAMPERING_BY_NAME = {"edit_envelope": edit_envelope, "edit_result": edit_result}

TAMPERING = {
    "edit_envelope": (edit_envelope, "history_rewritten"),
    "drop_tx": (drop_tx, "history_rewritten"),
    "swap_txs": (swap_txs, "history_rewritten"),
    "rewrite_block": (rewrite_block, "checkpoint_inconsistent"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_a_rewritten_history_makes_every_witness_refuse(
    pristine: Pristine, tmp_path: Path, kind: str
) -> None:
    tamper, reason = TAMPERING[kind]
    (server_db,), wdbs = clone(pristine, tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    size = pristine.head["size"]
    srv = server(server_db, pristine.keys, logs)
    ws: list[Process] = []
    try:
        ws = [witness(n, pristine.witness_keys[n], wdbs[n], srv.base, logs) for n in range(3)]
        wait_for(lambda: all(health(w)["verified_height"] >= 0 for w in ws), "witnesses")
        srv.stop()
        tamper(server_db, pristine.keys)  # the operator rewrites its history...
        srv = server(server_db, pristine.keys, logs, srv.port)  # ...and serves it

        def alarmed() -> list[dict[str, Any]] | None:
            found = [health(w) for w in ws]
            return found if all(h["status"] == "alarm" for h in found) else None

        alarms = wait_for(alarmed, f"every witness to raise an alarm ({kind})")
        assert {a["reason"] for a in alarms} == {reason}, alarms
        # New payments after the alarm: valid blocks, and yet nobody co-signs them.
        pay(srv.base, pristine.spare[:30], threads=2)
        time.sleep(2.0)  # many polls
        view = latest(srv.base)
        assert view["size"] == size + 30 and view["cosignatures"] == 0 and not view["final"]
        for w in ws:
            assert health(w)["status"] == "alarm"
            metrics = httpx.get(w.base + "/metrics").text
            assert f'localpay_witness_alarm{{reason="{reason}"}} 1.0' in metrics
            errors = [e for e in log_lines(w.log_text()) if e.get("level") == "error"]
            assert errors and errors[0]["event"] == "witness_alarm"
            assert errors[0]["reason"] == reason and errors[0]["detail"]
    finally:
        for w in ws:
            w.stop()
        srv.stop()
    with _db(server_db) as conn:
        later = conn.execute(
            "SELECT count(*) FROM cosignatures WHERE city = ? AND size > ?", (CITY, size)
        ).fetchone()[0]
    assert later == 0, "a witness co-signed past the rewrite"
    for db in wdbs:
        store = open_store(f"sqlite:///{db}")
        try:
            signed = SqlWitnessRecords(store).signed_checkpoints(CITY)
            assert max(signed) == size  # signed nothing after
            alarm = SqlWitnessRecords(store).alarm(CITY)
            assert alarm is not None and alarm.reason == reason
        finally:
            store.close()
    if kind != "rewrite_block":
        return
    # The alarm outlives a restart: the witness refuses at once, until an operator acts.
    again = witness(0, pristine.witness_keys[0], wdbs[0], srv.base, logs)
    try:
        assert health(again)["status"] == "alarm"
    finally:
        again.stop()
    shown = localpay("witness-alarm", "--city", CITY, "--db", f"sqlite:///{wdbs[0]}")
    assert shown.returncode == 3 and reason in shown.stdout
    cleared = localpay("witness-alarm", "--city", CITY, "--db", f"sqlite:///{wdbs[0]}", "--clear")
    assert cleared.returncode == 0 and "cleared" in cleared.stdout


@pytest.mark.parametrize("kind", ["edit_envelope", "edit_result"])
def test_a_rewritten_transaction_cannot_be_proved_against_the_cosigned_checkpoint(
    pristine: Pristine, tmp_path: Path, kind: str
) -> None:
    """A receipt made before the rewrite verifies against the final, co-signed checkpoint;
    the same receipt with the transaction as the operator now stores it does not."""
    (server_db,), _ = clone(pristine, tmp_path)
    with _db(server_db) as conn:
        nth = 3 if kind == "edit_envelope" else 4
        seq, _ = _pays(conn)[len(_pays(conn)) // nth]
        (tx_id,) = conn.execute(
            "SELECT id FROM txs WHERE city = ? AND seq = ?", (CITY, seq)
        ).fetchone()
    store = open_store(f"sqlite:///{server_db}")
    try:
        proofs = Transparency(store).start(background=False)  # the log before the rewrite
        before = proofs.receipt(CITY, tx_id)
        witnesses = [(f"witness-{n}.example", k) for n, k in enumerate(pristine.witness_pubs)]

        def failed(receipt: dict[str, Any]) -> set[str]:
            checks = verify_receipt(receipt, pristine.operator_key, witnesses, 2, True)
            return {k.name for k in checks if k.status == "FAIL"}

        assert before["final"] and before["tree_size"] == pristine.head["size"]
        assert failed(before) == set()
        assert TAMPERING_BY_NAME[kind](server_db, pristine.keys) == seq
        after = proofs.receipt(CITY, tx_id)  # the stored transaction is now the rewritten one
        assert after["transaction"] != before["transaction"]
        assert "inclusion" in failed(after), failed(after)
    finally:
        store.close()


# -- 3. a forked operator ---------------------------------------------------------------------


def test_a_fork_shows_two_roots_for_one_size(pristine: Pristine, tmp_path: Path) -> None:
    """Two servers from copies of one store diverge; witnesses 0 and 1 follow the first,
    witness 2 the second. Each witness sees a consistent chain and co-signs it; comparing
    what they signed exposes the fork."""
    (db_a, db_b), wdbs = clone(pristine, tmp_path, servers=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    size = pristine.head["size"]
    a = server(db_a, pristine.keys, logs)
    b: Process | None = None
    ws: list[Process] = []
    try:
        b = server(db_b, pristine.keys, logs)
        follows = [a, a, b]
        ws = [
            witness(n, pristine.witness_keys[n], wdbs[n], follows[n].base, logs) for n in range(3)
        ]
        # One payment at a time: one block each, so both chains have every size.
        for envelope in pristine.spare[:3]:
            pay(a.base, [envelope], threads=1)
        for envelope in pristine.spare[3:6]:
            pay(b.base, [envelope], threads=1)
        wait_for(
            lambda: all(health(w)["signed_size"] == size + 3 for w in ws),
            "the witnesses to co-sign their server's head",
        )
        assert all(health(w)["status"] == "ok" for w in ws)  # neither chain is bad alone
        note_a = httpx.get(f"{a.base}/v1/cities/{CITY}/checkpoints/{size + 3}").json()
        note_b = httpx.get(f"{b.base}/v1/cities/{CITY}/checkpoints/{size + 3}").json()
    finally:
        for w in ws:
            w.stop()
        a.stop()
        if b is not None:
            b.stop()
    assert note_a["final"] and note_a["cosignatures"] == 2 and note_b["cosignatures"] == 1
    records = []
    for db in wdbs:
        store = open_store(f"sqlite:///{db}")
        try:
            records.append(SqlWitnessRecords(store).signed_checkpoints(CITY))
        finally:
            store.close()
    forks = find_forks(records)
    assert forks[size + 3] == {note_a["root"], note_b["root"]}
    assert all(s > size for s in forks)  # the shared history agrees
    # The two operator-signed checkpoints are the proof, checkable by anyone.
    found = fork_proof(note_a["note"], note_b["note"], pristine.operator_key)
    assert found is not None and found[1] == size + 3
    compared = localpay("witness-forks", "--city", CITY, *(f"sqlite:///{db}" for db in wdbs))
    assert compared.returncode == 3 and f"FORK {CITY} size {size + 3}" in compared.stdout


def test_witnesses_that_compare_notes_catch_a_fork_themselves(
    pristine: Pristine, tmp_path: Path
) -> None:
    """As above, but witness 0 (following server A) and witness 2 (following server B)
    are each other's --peer: each fetches the other's newest co-signed checkpoint and
    finds that the operator signed another root for a size it verified."""
    (db_a, db_b), wdbs = clone(pristine, tmp_path, servers=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = [free_port(), free_port()]
    peers = [f"http://127.0.0.1:{p}" for p in ports]
    a = server(db_a, pristine.keys, logs)
    b: Process | None = None
    ws: list[Process] = []
    try:
        b = server(db_b, pristine.keys, logs)
        ws = [
            witness(0, pristine.witness_keys[0], wdbs[0], a.base, logs, ports[0], (peers[1],)),
            witness(2, pristine.witness_keys[2], wdbs[2], b.base, logs, ports[1], (peers[0],)),
        ]
        pay(a.base, pristine.spare[:2], threads=1)
        pay(b.base, pristine.spare[2:4], threads=1)

        def alarmed() -> list[dict[str, Any]] | None:
            found = [health(w) for w in ws]
            return found if all(h["status"] == "alarm" for h in found) else None

        alarms = wait_for(alarmed, "both witnesses to find the fork")
        assert {x["reason"] for x in alarms} == {"fork"}, alarms
        assert peers[1] in alarms[0]["detail"] and peers[0] in alarms[1]["detail"]
        assert "the operator signed two histories" in alarms[0]["detail"]
        for w in ws:
            assert (
                'localpay_witness_alarm{reason="fork"} 1.0' in httpx.get(w.base + "/metrics").text
            )
    finally:
        for w in ws:
            w.stop()
        a.stop()
        if b is not None:
            b.stop()


# -- 4. a new witness on a tampered chain ------------------------------------------------------

FROM_GENESIS = {
    "edit_envelope": (edit_envelope, {"invalid_signature"}),
    "edit_result": (edit_result, {"replay_mismatch"}),
    "drop_tx": (drop_tx, {"gap"}),
    "swap_txs": (swap_txs, {"replay_mismatch", "merkle_mismatch"}),
    "rewrite_block": (rewrite_block, {"replay_mismatch"}),
}


@pytest.mark.parametrize("kind", list(FROM_GENESIS))
def test_a_new_witness_refuses_a_tampered_chain_where_it_breaks(
    pristine: Pristine, tmp_path: Path, kind: str
) -> None:
    """A witness starting from genesis re-executes the tampered chain, served by a live
    server, and stops at the first bad block, signing nothing there or after."""
    tamper, reasons = FROM_GENESIS[kind]
    (server_db,), _ = clone(pristine, tmp_path)
    first_bad = tamper(server_db, pristine.keys)
    with _db(server_db) as conn:  # only this witness's cosignatures from here on
        conn.execute("DELETE FROM cosignatures")
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = server(server_db, pristine.keys, logs)
    store = open_store(f"sqlite:///{tmp_path}/fresh-witness.db")
    key = nacl.signing.SigningKey(bytes.fromhex(pristine.witness_keys[0].read_text().strip()))
    settings = WitnessSettings(city=CITY, follow=srv.base, page_blocks=5, poll_s=0.05)
    follower = new_witness(store, key, settings)
    thread = threading.Thread(target=follower.run, daemon=True)
    try:
        thread.start()
        wait_for(lambda: follower.alarmed, f"an alarm ({kind})", timeout=120)
        thread.join(30)
        status = follower.status()
        assert status["reason"] in reasons, status
        signed = SqlWitnessRecords(store).signed_checkpoints(CITY)
        assert signed and max(signed) <= first_bad  # up to the block before, never past it
        assert store.head(CITY) is not None and verify_city(store, CITY).ok  # its copy: good
    finally:
        follower.stop()
        thread.join(30)
        follower.close()
        store.close()
        srv.stop()
    with _db(server_db) as conn:
        (posted,) = conn.execute("SELECT max(size) FROM cosignatures").fetchone()
    assert posted is not None and posted <= first_bad
