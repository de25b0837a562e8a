"""A city can leave: export its chain from one store, import it into another and verify there.

The source city is the demo simulation (citizens, merchants, programs, payments, refunds,
expiry) plus a witness set and a few cosignatures. It moves between every pair of store
kinds (SQLite and PostgreSQL, both ways); the import replays every block, so the target's
state is recomputed, and must come out byte for byte the source's. Tampered archives are
refused naming what is wrong and leave no trace of the city; a second import is refused;
a chain continues on the target; a later stretch of the chain follows as a continuation.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.blocks import TxRecord, decode_header
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.ledger.state import Wallet
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.cities.officials import CityExists, official_keys
from localpay.services.cities.verify import verify_city
from localpay.services.portability.archive import FORMAT, read_manifest
from localpay.services.portability.errors import ExportError, ImportRefused
from localpay.services.portability.exporter import export_city
from localpay.services.portability.importer import import_city
from localpay.sim.demo import DEMO_SECRET, SimClock, derived_key, run_demo

CITY = "gimpo"
START_MS = 1_780_000_000_000
CLI = "from localpay.entrypoints.cli.main import app; app()"


@dataclass
class Source:
    url: str
    store: Store
    keys: KeyStore
    archive: Path


def _cosign(store: Store, height: int, witness: tuple[str, nacl.signing.SigningKey]) -> None:
    block = next(iter(store.blocks(CITY, height, height + 1)))
    body, _ = checkpoint.open_note(block.checkpoint)
    name, key = witness
    line = checkpoint.cosign(body, name, bytes(key), 1_790_000_000 + height)
    size = decode_header(block.header_bytes).log_size
    assert store.add_cosignature(
        CITY, size, public_key_hex(key), line.rstrip("\n"), 1_790_000_000 + height
    )


def build_city(url: str, keys: KeyStore) -> Store:
    """The demo city, then witnesses who cosign the head and a block before they were named."""
    store = open_store(url)
    clock = SimClock(START_MS)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)  # simulated days
    try:
        run_demo(ledgers, clock, CITY, "김포시", citizens=30, merchants=5, days=3, seed=9)
        witnesses = [(f"witness-{n}.example", nacl.signing.SigningKey.generate()) for n in range(2)]
        named = c.SetWitnesses(
            id=new_id(),
            city=CITY,
            witnesses=[c.Witness(name=n, key=public_key_hex(k)) for n, k in witnesses],
            quorum=2,
        )
        signed = sign_command(named, official_keys(keys, CITY)[:2])
        assert ledgers.execute(CITY, signed).ok
    finally:
        ledgers.close()
    head = store.head(CITY)
    assert head is not None and head.height > 12
    for witness in witnesses:
        _cosign(store, head.height, witness)
    _cosign(store, 5, witnesses[0])
    return store


def _other_kind(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if url.startswith("postgres"):
        return f"sqlite:///{tmp_path}/target.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make()


def _same_kind(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if url.startswith("postgres"):
        make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
        return make()
    return f"sqlite:///{tmp_path}/target.db"


@pytest.fixture
def source(store_url: str, keys: KeyStore, tmp_path: Path) -> Iterator[Source]:
    store = build_city(store_url, keys)
    archive = tmp_path / "gimpo.archive"
    export_city(store, CITY, archive)
    yield Source(store_url, store, keys, archive)
    store.close()


@pytest.fixture
def target(source: Source, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store of the same kind as the source."""
    store = open_store(_same_kind(source.url, tmp_path, request))
    yield store
    store.close()


def _cosignatures(store: Store) -> list[tuple[int, str, str, int]]:
    sizes = sorted({decode_header(b.header_bytes).log_size for b in store.blocks(CITY)})
    return [(size, *row) for size in sizes for row in store.cosignatures(CITY, size)]


def _recorded(tx: TxRecord) -> tuple[int, int, str, str, bytes, bytes]:
    return (tx.seq, tx.height, tx.id, tx.kind, tx.envelope, tx.result)


def assert_same_city(source: Store, target: Store) -> None:
    assert target.head(CITY) == source.head(CITY)
    assert list(target.blocks(CITY)) == list(source.blocks(CITY))
    # The chain as recorded. The private fields beside each leaf (whose histories list
    # it, its sender's balance) are not exported: the history index derives the
    # parties again on the way in (services/history/service.py).
    assert list(map(_recorded, target.txs(CITY))) == list(map(_recorded, source.txs(CITY)))
    # Sorted here: each store orders keys by its own collation.
    assert sorted(target.state(CITY)) == sorted(source.state(CITY))
    assert _cosignatures(target) == _cosignatures(source)


def assert_no_city(store: Store) -> None:
    assert CITY not in store.cities()
    for table in ("blocks", "txs", "state", "cosignatures", "tx_parties"):
        assert store.sql(f"SELECT count(*) FROM {table} WHERE city = ?", (CITY,)) == [(0,)]


# -- moving a city ---------------------------------------------------------------------------


def _pay_once_more(store: Store, keys: KeyStore) -> None:
    """A sequencer on the target continues the chain: one more payment, at the next height."""
    before = store.head(CITY)
    assert before is not None
    secret = bytes(keys.load(CITY, DEMO_SECRET))
    # A wallet that paid a merchant before, with the most money left, pays it again.
    wallets = {
        k[2:]: msgspec.json.decode(v, type=Wallet) for k, v in store.state(CITY) if k[0] == "w"
    }
    paid = [
        msgspec.json.decode(t.envelope)["body"]
        for t in store.txs(CITY)
        if t.kind == "pay" and b'"code":"ok"' in t.result
    ]
    body = max(
        (b for b in paid if not wallets[b["wallet"]].custodial),
        key=lambda b: wallets[b["wallet"]].balance(),
    )
    payment = c.Pay(
        id=new_id(),
        city=CITY,
        wallet=body["wallet"],
        merchant=body["merchant"],
        amount=100,
        evidence="",
    )
    clock = SimClock(decode_header(before.header_bytes).time_ms + 1000)
    ledgers = Ledgers(store, keys, clock)
    try:
        receipt = ledgers.execute(
            CITY, sign_command(payment, [derived_key(secret, body["wallet"])])
        )
    finally:
        ledgers.close()
    assert receipt.ok, receipt
    after = store.head(CITY)
    assert after is not None and after.height == before.height + 1
    assert decode_header(after.header_bytes).prev == before.hash.hex()
    report = verify_city(store, CITY)
    assert report.ok, report.problems


@pytest.mark.parametrize("kind", ["same", "other"])
def test_a_city_moves_and_verifies_on_the_new_store(
    source: Source, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    pick = _other_kind if kind == "other" else _same_kind
    store = open_store(pick(source.url, tmp_path, request))
    try:
        seen: list[tuple[int, int]] = []
        manifest = import_city(store, source.archive, progress=lambda d, t: seen.append((d, t)))
        report = verify_city(store, CITY)
        assert report.ok, report.problems
        assert_same_city(source.store, store)
        head = source.store.head(CITY)
        assert head is not None
        header = decode_header(head.header_bytes)
        assert (manifest.height, manifest.txs, manifest.log_size, manifest.log_root) == (
            header.height,
            header.log_size,
            header.log_size,
            header.log_root,
        )
        assert manifest.head_hash == head.hash.hex() and manifest.cosignatures == 3
        assert report.txs == manifest.txs and seen[-1] == (manifest.txs, manifest.txs)
        with pytest.raises(CityExists, match="already exists"):
            import_city(store, source.archive)
        assert_same_city(source.store, store)  # the refused second import changed nothing
        _pay_once_more(store, source.keys)
    finally:
        store.close()


def test_an_export_is_deterministic_and_stops_at_the_height_it_names(
    source: Source, tmp_path: Path
) -> None:
    again = tmp_path / "again.archive"
    export_city(source.store, CITY, again)
    first, second = (
        gzip.decompress(p.read_bytes()).split(b"\n", 1) for p in (source.archive, again)
    )
    assert first[1] == second[1]  # the content, byte for byte; the manifests differ in
    manifests = [msgspec.json.decode(m[0]) for m in (first, second)]
    for m in manifests:
        del m["exported_ms"]  # ... the time of the export only
    assert manifests[0] == manifests[1]
    manifest = read_manifest(source.archive)
    assert manifest.format == FORMAT and manifest.first_height == 0
    short = tmp_path / "short.archive"
    assert export_city(source.store, CITY, short, last_height=7).height == 7
    with pytest.raises(ExportError, match="exists"):
        export_city(source.store, CITY, short)
    with pytest.raises(ExportError, match="no city"):
        export_city(source.store, "nowhere", tmp_path / "x.archive")
    with pytest.raises(ExportError, match="not in the chain"):
        export_city(source.store, CITY, tmp_path / "y.archive", last_height=10_000)
    assert sorted(p.name for p in tmp_path.glob("*.partial")) == []


def test_an_export_beside_a_running_sequencer_stops_at_the_head_it_began_with(
    source: Source, target: Store, tmp_path: Path
) -> None:
    head = source.store.head(CITY)
    assert head is not None
    clock = SimClock(decode_header(head.header_bytes).time_ms + 1000)
    ledgers = Ledgers(source.store, source.keys, clock)
    stop = threading.Event()

    def open_wallets() -> None:
        while not stop.is_set():
            key = nacl.signing.SigningKey.generate()
            wallet = f"w-live-{new_id()[:8]}"
            opening = c.OpenWallet(
                id=new_id(), city=CITY, wallet=wallet, keys=[public_key_hex(key)], custodial=False
            )
            assert ledgers.execute(CITY, sign_command(opening, [key])).ok

    writer = threading.Thread(target=open_wallets)
    writer.start()
    try:
        while (now := source.store.head(CITY)) is None or now.height < head.height + 3:
            time.sleep(0.01)
        live = tmp_path / "live.archive"
        manifest = export_city(source.store, CITY, live)
        while (later := source.store.head(CITY)) is None or later.height < manifest.height + 2:
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
        ledgers.close()
    assert manifest.height > head.height
    assert import_city(target, live).head_hash == manifest.head_hash
    assert verify_city(target, CITY).ok


def test_a_later_stretch_follows_as_a_continuation(
    source: Source, target: Store, tmp_path: Path
) -> None:
    """The bulk moves while the city runs; then only the blocks since (the move's pause)."""
    head = source.store.head(CITY)
    assert head is not None
    cut = head.height - 4
    bulk, rest = tmp_path / "bulk.archive", tmp_path / "rest.archive"
    export_city(source.store, CITY, bulk, last_height=cut)
    export_city(source.store, CITY, rest, first_height=cut + 1)
    with pytest.raises(ImportRefused, match="does not hold"):
        import_city(target, rest)
    assert import_city(target, bulk).height == cut
    assert verify_city(target, CITY).ok
    manifest = import_city(target, rest)
    assert (manifest.first_height, manifest.height, manifest.blocks) == (cut + 1, head.height, 4)
    report = verify_city(target, CITY)
    assert report.ok, report.problems
    assert_same_city(source.store, target)
    with pytest.raises(ImportRefused, match=f"ends at block {head.height}"):
        import_city(target, rest)


def test_a_continuation_refused_midway_keeps_the_verified_blocks(
    source: Source, target: Store, tmp_path: Path
) -> None:
    height = max(t.height for t in source.store.txs(CITY) if t.kind == "pay")
    cut = height - 2  # the continuation: a good block, then the tampered one
    bulk, rest = tmp_path / "bulk.archive", tmp_path / "rest.archive"
    export_city(source.store, CITY, bulk, last_height=cut)
    export_city(source.store, CITY, rest, first_height=cut + 1)
    import_city(target, bulk)
    lines = _lines(rest)
    last_pay = max(i for i, line in enumerate(lines) if b'"kind":"pay"' in line)
    tampered = _write(tmp_path, _edit_envelope(lines, last_pay))
    with pytest.raises(ImportRefused, match=f"block {height}, tx .*now ends at block {height - 1}"):
        import_city(target, tampered)
    assert verify_city(target, CITY).ok
    stored = target.head(CITY)
    assert stored is not None and stored.height == height - 1


# -- tampered archives ---------------------------------------------------------------------------


def _lines(archive: Path) -> list[bytes]:
    return gzip.decompress(archive.read_bytes()).splitlines(keepends=True)


def _write(tmp_path: Path, lines: list[bytes], name: str = "tampered.archive") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"".join(lines)))
    return path


def _edit_envelope(lines: list[bytes], at: int) -> list[bytes]:
    """One byte of the envelope of the first payment at or after line `at`: an amount digit."""
    i = next(n for n in range(at, len(lines)) if b'"kind":"pay"' in lines[n])
    lines = list(lines)
    digit = lines[i].index(b'\\"amount\\":') + len(b'\\"amount\\":')
    lines[i] = (
        lines[i][:digit]
        + (b"9" if lines[i][digit : digit + 1] != b"9" else b"8")
        + lines[i][digit + 1 :]
    )
    return lines


def _late(lines: list[bytes]) -> int:
    """A line in the last quarter: blocks before it are written before the fault is met."""
    return len(lines) * 3 // 4


def _first_after(lines: list[bytes], at: int, prefix: bytes) -> int:
    return next(n for n in range(at, len(lines)) if lines[n].startswith(prefix))


def _without(lines: list[bytes], at: int) -> list[bytes]:
    return lines[:at] + lines[at + 1 :]


def _edit_frontier(lines: list[bytes]) -> list[bytes]:
    at = _first_after(lines, _late(lines), b'{"t":"block"')
    block = msgspec.json.decode(lines[at])
    first = block["frontier"][0]
    block["frontier"][0] = ("1" if first[0] == "0" else "0") + first[1:]
    return [*lines[:at], msgspec.json.encode(block) + b"\n", *lines[at + 1 :]]


def _swap_txs(lines: list[bytes]) -> list[bytes]:
    for n in range(_late(lines), len(lines) - 1):
        if b'"t":"tx"' in lines[n] and b'"t":"tx"' in lines[n + 1]:
            lines = list(lines)
            lines[n], lines[n + 1] = lines[n + 1], lines[n]
            return lines
    raise AssertionError("no two adjacent transactions")


TAMPERING: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "one envelope byte": (
        lambda lines: _edit_envelope(lines, _late(lines)),
        r"block \d+, tx \d+ \(#\d+ in block, id [0-9a-f]{32}\): a command signature does not",
    ),
    "a removed tx line": (
        lambda lines: _without(lines, _first_after(lines, _late(lines), b'{"t":"tx"')),
        r"block \d+: header says \d+ txs, store has \d+",
    ),
    "a removed block line": (
        lambda lines: _without(lines, _first_after(lines, 12, b'{"t":"block"')),
        r"line \d+: block \d+ has more transactions than its header's \d+",
    ),
    "a block's frontier": (
        _edit_frontier,
        r"block \d+: its stored frontier is not the compact range of the log after it",
    ),
    "two swapped transactions": (
        _swap_txs,
        r"block \d+, tx \d+ .*out of place",
    ),
    "a cosignature's timestamp": (
        lambda lines: [
            line.replace(b'"timestamp":1790', b'"timestamp":1791')
            if b'"t":"cosignature"' in line
            else line
            for line in lines
        ],
        r"the cosignature of block \d+ by 'witness-\d\.example' does not verify",
    ),
    "the manifest's content hash": (
        lambda lines: [
            msgspec.json.encode({**msgspec.json.decode(lines[0]), "content_sha256": "ab" * 32})
            + b"\n",
            *lines[1:],
        ],
        r"is not what the manifest says .*altered after export",
    ),
    "the manifest's log root": (
        lambda lines: [
            msgspec.json.encode({**msgspec.json.decode(lines[0]), "log_root": "cd" * 32}) + b"\n",
            *lines[1:],
        ],
        r"the manifest does not describe the chain it carries",
    ),
    "a last block cut off": (
        lambda lines: lines[: _first_after(lines, _late(lines), b'{"t":"block"')],
        r"truncated: it ends after block \d+, the manifest says block \d+",
    ),
    "a line cut short": (
        lambda lines: [*lines[:-1], lines[-1][:40]],
        r"truncated: line \d+ is cut short",
    ),
    "a line that is not JSON": (
        lambda lines: [*lines[:20], b"{not json\n", *lines[20:]],
        r"line 21 is not an archive line",
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_tampered_archive_is_refused_naming_the_fault_and_leaves_nothing(
    source: Source, target: Store, tmp_path: Path, how: str
) -> None:
    change, message = TAMPERING[how]
    tampered = _write(tmp_path, change(_lines(source.archive)))
    with pytest.raises(ImportRefused, match=message) as refused:
        import_city(target, tampered)
    assert str(refused.value).endswith("; nothing was imported")
    assert_no_city(target)
    # The genuine archive still imports into the same store afterwards.
    import_city(target, source.archive)
    assert verify_city(target, CITY).ok


def test_a_truncated_or_foreign_file_is_refused(
    source: Source, target: Store, tmp_path: Path
) -> None:
    data = source.archive.read_bytes()
    cut = tmp_path / "cut.archive"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImportRefused, match="truncated"):
        import_city(target, cut)
    assert_no_city(target)
    only_manifest = _write(tmp_path, _lines(source.archive)[:1], "manifest-only.archive")
    with pytest.raises(ImportRefused, match="truncated: it ends before any block"):
        import_city(target, only_manifest)
    foreign = tmp_path / "foreign.archive"
    foreign.write_bytes(gzip.compress(b'{"hello":"world"}\n'))
    with pytest.raises(ImportRefused, match=f"not a {FORMAT} archive"):
        import_city(target, foreign)
    future = _write(
        tmp_path,
        [msgspec.json.encode({"format": FORMAT, "version": 99}) + b"\n"],
        "future.archive",
    )
    with pytest.raises(ImportRefused, match="version 99"):
        import_city(target, future)
    plain = tmp_path / "plain.archive"
    plain.write_bytes(b"not gzip at all\n")
    with pytest.raises(ImportRefused, match=r"damaged|not a"):
        import_city(target, plain)
    assert_no_city(target)


def test_a_re_sealed_forgery_still_fails_the_replay(
    source: Source, target: Store, tmp_path: Path
) -> None:
    """Recomputing the manifest's hash after an edit does not help: the replay catches it."""
    import hashlib  # noqa: PLC0415

    lines = _edit_envelope(_lines(source.archive), 1)
    content = b"".join(lines[1:])
    manifest = {
        **msgspec.json.decode(lines[0]),
        "content_sha256": hashlib.sha256(content).hexdigest(),
    }
    forged = _write(tmp_path, [msgspec.json.encode(manifest) + b"\n", content])
    with pytest.raises(ImportRefused, match="a command signature does not verify"):
        import_city(target, forged)
    assert_no_city(target)


# -- the command line -----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, check=False, timeout=300
    )


@pytest.mark.slow
def test_the_commands_export_and_import(
    source: Source, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "cli.archive"
    done = _cli("--db", source.url, "export", "--city", CITY, "--out", str(out))
    assert done.returncode == 0, done.stderr
    head = source.store.head(CITY)
    assert head is not None
    root = decode_header(head.header_bytes).log_root
    assert f"log root {root}" in done.stdout and f"blocks 0..{head.height}" in done.stdout
    again = _cli("--db", source.url, "export", "--city", CITY, "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr

    url = _other_kind(source.url, tmp_path, request)
    done = _cli("--db", url, "import", str(out))
    assert done.returncode == 0, done.stderr
    assert f"log root {root}" in done.stdout and "txs replayed and verified" in done.stdout
    verified = subprocess.run(
        [sys.executable, "-m", "localpay.entrypoints.cli", "--db", url, "verify", "--city", CITY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr

    twice = _cli("--db", url, "import", str(out))
    assert twice.returncode == 1
    assert twice.stderr.count("\n") == 1 and "already exists" in twice.stderr

    tampered = _write(tmp_path, _edit_envelope(_lines(out), 1), "bad.archive")
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    bad = _cli("--db", fresh, "import", str(tampered))
    assert bad.returncode == 1 and "signature does not verify" in bad.stderr
    assert "nothing was imported" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli("--db", fresh, "import", str(tmp_path / "nowhere.archive"))
    assert missing.returncode == 1 and "cannot open" in missing.stderr
