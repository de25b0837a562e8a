"""verify, import and witnesses run one replay, as strict as the sequencer; and each can
pin the chain it expects (genesis hash, operator key).

The operator here is the forger: it holds the city's operator key and seals blocks with
the ledger's own `chain.seal`, so every hash and signature it makes is valid and only the
rule under test is broken: a command signed for another city, a block that does not link
to the one before, a checkpoint that is not the operator's. Each chain is refused by
`verify`, by `import` (nothing written) and by a witness following a live server (an
alarm, nothing co-signed past the forged block), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest

from localpay.adapters.clock import now_ms as _now_ms
from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.witness import SqlWitnessRecords
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.domain.limits import CLOCK_SKEW_MS_MAX
from localpay.ledger.blocks import TxRecord, decode_header
from localpay.ledger.chain import ChainHead, seal, stored_genesis_hash
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store, StoredBlock
from localpay.ledger.replay import PinMismatch, Pins
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import official_keys
from localpay.services.cities.verify import chain_identity, verify_city
from localpay.services.portability.errors import ImportRefused, PinRefused
from localpay.services.portability.exporter import export_city
from localpay.services.portability.importer import import_city
from localpay.services.witness.service import Witness
from localpay.sim.bench import BenchCity
from localpay.testing.servers import follow_live_server, live_server

CITY = "gimpo"
OTHER = "yangju"
LOCALPAY = "from localpay.entrypoints.cli.main import app; app()"


@dataclass
class City:
    url: str
    store: Store
    keys: Path
    witness_key: nacl.signing.SigningKey
    genesis_hash: str
    operator_key: str


@pytest.fixture
def city(store_url: str, tmp_path: Path) -> Iterator[City]:
    """A small city with one witness (quorum 1), and a second city in the same store."""
    keys = tmp_path / "keys"
    store = open_store(store_url)
    ledgers = Ledgers(store, KeyStore(keys), _now_ms)
    witness_key = nacl.signing.SigningKey.generate()
    try:
        bench = BenchCity(ledgers, CITY)
        bench.set_up(wallets=4, merchants=2)
        command = c.SetWitnesses(
            id=new_id(),
            city=CITY,
            witnesses=[c.Witness(name="w0.example", key=public_key_hex(witness_key))],
            quorum=1,
        )
        assert ledgers.execute(
            CITY, sign_command(command, official_keys(ledgers.keys, CITY)[:2])
        ).ok
        for payment in bench.payments(6):
            assert ledgers.execute(CITY, payment).ok
        BenchCity(ledgers, OTHER).set_up(wallets=1, merchants=1)
        operator = public_key_hex(ledgers.keys.load(CITY, OPERATOR))
    finally:
        ledgers.close()
    genesis_hash = stored_genesis_hash(store, CITY)
    assert genesis_hash is not None
    yield City(store_url, store, keys, witness_key, genesis_hash, operator)
    store.close()


# -- forging, with the ledger's own seal and the operator's key --------------------------------


def _block(store: Store, height: int) -> StoredBlock:
    return next(iter(store.blocks(CITY, height, height + 1)))


def _operator(city: City) -> nacl.signing.SigningKey:
    return KeyStore(city.keys).load(CITY, OPERATOR)


def append_other_citys_command(city: City) -> tuple[int, int]:
    """A new block holding an open_wallet signed for the other city (and recorded there,
    with the result a replay gives here too): (height, seq)."""
    key = nacl.signing.SigningKey.generate()
    command = c.OpenWallet(
        id=new_id(), city=OTHER, wallet="w-7777777", keys=[public_key_hex(key)], custodial=False
    )
    ledgers = Ledgers(city.store, KeyStore(city.keys), _now_ms)
    try:
        assert ledgers.execute(OTHER, sign_command(command, [key])).ok
    finally:
        ledgers.close()
    recorded = city.store.find_tx(OTHER, command.id)
    assert recorded is not None
    return _append_one(city, recorded.id, recorded.kind, recorded.envelope, recorded.result)


def _append_one(
    city: City, tx_id: str, kind: str, envelope: bytes, result: bytes
) -> tuple[int, int]:
    """A new block after the head holding one transaction as given, sealed with the
    ledger's own seal and the operator's key: (height, seq)."""
    head = city.store.head(CITY)
    assert head is not None
    header = decode_header(head.header_bytes)
    tx = TxRecord(
        seq=header.log_size,
        height=head.height + 1,
        id=tx_id,
        kind=kind,
        envelope=envelope,
        result=result,
    )
    chain = ChainHead.after(CITY, head, city.genesis_hash)
    city.store.append_block(CITY, seal(chain, _now_ms(), [tx], [], _operator(city)))
    return head.height + 1, tx.seq


def _reseal_head(city: City, edit: Callable[[ChainHead], None]) -> int:
    """The head block sealed again over its own transactions, after `edit` of the chain
    head it is sealed onto; its row rewritten in place. Returns its height."""
    head = city.store.head(CITY)
    assert head is not None
    chain = ChainHead.after(CITY, _block(city.store, head.height - 1), city.genesis_hash)
    edit(chain)
    txs = city.store.block_txs(CITY, head.height)
    record = seal(chain, decode_header(head.header_bytes).time_ms, txs, [], _operator(city))
    _rewrite(
        city, head.height, record.header_bytes, record.hash, record.signature, record.checkpoint
    )
    return head.height


def _rewrite(city: City, height: int, header: bytes, hash_: bytes, sig: bytes, note: str) -> None:
    city.store.sql(
        "UPDATE blocks SET header = ?, hash = ?, signature = ?, checkpoint = ?"
        " WHERE city = ? AND height = ?",
        (header, hash_, sig, note, CITY, height),
    )


def break_prev_link(city: City) -> tuple[int, int]:
    """The head block, validly hashed and signed, names another block as its previous."""

    def elsewhere(chain: ChainHead) -> None:
        chain.prev = "ab" * 32

    return _reseal_head(city, elsewhere), -1


def forge_checkpoint(city: City) -> tuple[int, int]:
    """The head block's checkpoint, right in every line, signed by a key that is not the
    operator's (under the log's own name)."""
    head = city.store.head(CITY)
    assert head is not None
    body, _ = checkpoint.open_note(head.checkpoint)
    origin = checkpoint.parse_checkpoint(body).origin
    stranger = nacl.signing.SigningKey.generate()
    note = checkpoint.note_text(body, [checkpoint.sign_note(body, origin, bytes(stranger))])
    _rewrite(city, head.height, head.header_bytes, head.hash, head.signature, note)
    return head.height, -1


def extend_checkpoint(city: City) -> tuple[int, int]:
    """The head block's checkpoint signed by the operator itself, but over more than the
    block's origin, size and root: a line the seal never writes."""
    head = city.store.head(CITY)
    assert head is not None
    body, _ = checkpoint.open_note(head.checkpoint)
    point = checkpoint.parse_checkpoint(body)
    more = checkpoint.checkpoint_body(point.origin, point.size, point.root, ["valid-until 9999"])
    note = checkpoint.note_text(
        more, [checkpoint.sign_note(more, point.origin, bytes(_operator(city)))]
    )
    _rewrite(city, head.height, head.header_bytes, head.hash, head.signature, note)
    return head.height, -1


def append_strangers_junk(city: City) -> tuple[int, int]:
    """A new block holding a payment signed by a key the chain does not know, recorded
    with exactly the answer a replay gives (unknown_signer): only the rule that such
    junk is never recorded can refuse it. (height, seq)."""
    accounts = [key for key, _ in city.store.state(CITY)]
    wallet = next(k.removeprefix("w:") for k in accounts if k.startswith("w:"))
    merchant = next(k.removeprefix("m:") for k in accounts if k.startswith("m:"))
    junk = c.Pay(id=new_id(), city=CITY, wallet=wallet, merchant=merchant, amount=1, evidence="")
    envelope = sign_command(junk, [nacl.signing.SigningKey.generate()])
    return _append_one(city, junk.id, "pay", envelope, b'{"code":"unknown_signer"}')


FORGERIES: dict[str, tuple[Callable[[City], tuple[int, int]], str, str]] = {
    "a stranger's junk recorded": (
        append_strangers_junk,
        "replay answers unknown_signer, which is never recorded",
        "chain_invalid",
    ),
    # name: (forge, what the replay says, the witness's alarm)
    "a command of another city": (
        append_other_citys_command,
        f"a command of city {OTHER!r}",
        "chain_invalid",
    ),
    "a broken previous-block link": (
        break_prev_link,
        "does not link to block",
        "history_rewritten",
    ),
    "a checkpoint not signed by the operator": (
        forge_checkpoint,
        "checkpoint not signed by the operator",
        "invalid_signature",
    ),
    "a checkpoint with more than the block's log": (
        extend_checkpoint,
        "checkpoint does not match the block",
        "chain_invalid",
    ),
}


# -- verify, import, witness -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_verify_refuses_a_forged_chain(city: City, kind: str) -> None:
    forge, message, _ = FORGERIES[kind]
    height, seq = forge(city)
    report = verify_city(city.store, CITY)
    assert not report.ok
    problem = report.problems[0]
    assert problem.startswith(f"block {height}") and message in problem, problem
    if seq >= 0:
        assert f"tx {seq} " in problem, problem
    assert verify_city(city.store, OTHER).ok  # the other city is not concerned


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_import_refuses_a_forged_chain_and_writes_nothing(
    city: City, kind: str, tmp_path: Path
) -> None:
    forge, message, _ = FORGERIES[kind]
    height, _ = forge(city)
    archive = tmp_path / "forged.archive"
    export_city(city.store, CITY, archive)
    target = open_store(f"sqlite:///{tmp_path}/target.db")
    try:
        with pytest.raises(ImportRefused, match=f"block {height}") as refused:
            import_city(target, archive)
        assert message in str(refused.value) and "nothing was imported" in str(refused.value)
        assert target.head(CITY) is None and not list(target.state(CITY))
    finally:
        target.close()


def _follow(
    city: City,
    db: Path,
    until: Callable[[Witness], bool],
    clock: Callable[[], int] = _now_ms,
    pins: Pins | None = None,
) -> Witness:
    return follow_live_server(
        city.url, city.keys, city.witness_key, db, until, city=CITY, pins=pins, clock=clock
    )


def _size(city: City) -> int:
    head = city.store.head(CITY)
    assert head is not None
    return decode_header(head.header_bytes).log_size


def _caught_up(city: City) -> Callable[[Witness], bool]:
    size = _size(city)
    return lambda w: bool(w.status()["signed_size"] == size)


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_a_witness_refuses_a_forged_chain(city: City, kind: str, tmp_path: Path) -> None:
    forge, message, reason = FORGERIES[kind]
    height, _ = forge(city)
    follower = _follow(city, tmp_path / "witness.db", lambda w: w.alarmed)
    try:
        status = follower.status()
        assert status["reason"] == reason and message in status["detail"], status
        assert status["height"] == height
        own = follower.store.head(CITY)
        assert own is None or own.height < height  # its copy stops before the forged block
        before = decode_header(_block(city.store, height - 1).header_bytes).log_size
        assert max(follower.records.signed_checkpoints(CITY), default=0) <= before
    finally:
        follower.store.close()


def test_an_honest_chain_is_accepted_by_all_three(city: City, tmp_path: Path) -> None:
    assert verify_city(city.store, CITY).ok
    archive = tmp_path / "honest.archive"
    export_city(city.store, CITY, archive)
    target = open_store(f"sqlite:///{tmp_path}/target.db")
    try:
        import_city(target, archive, pins=Pins(city.genesis_hash, city.operator_key))
        assert verify_city(target, CITY).ok
    finally:
        target.close()
    follower = _follow(city, tmp_path / "witness.db", _caught_up(city))
    try:
        assert not follower.alarmed and follower.failure is None
    finally:
        follower.store.close()


# -- the witness's clock ---------------------------------------------------------------------


@pytest.mark.parametrize("behind_ms", [CLOCK_SKEW_MS_MAX + 60_000, CLOCK_SKEW_MS_MAX - 60_000])
def test_a_witness_refuses_blocks_from_beyond_its_clock_skew(
    city: City, tmp_path: Path, behind_ms: int
) -> None:
    """Seen from a witness whose clock is `behind_ms` behind the operator's, every block
    is from the future: within CLOCK_SKEW_MS_MAX it follows, beyond it refuses."""
    follower = _follow(
        city,
        tmp_path / "witness.db",
        lambda w: w.alarmed or _caught_up(city)(w),
        clock=lambda: _now_ms() - behind_ms,
    )
    try:
        if behind_ms > CLOCK_SKEW_MS_MAX:
            status = follower.status()
            assert status["reason"] == "clock_skew" and status["height"] == 0, status
            assert follower.store.head(CITY) is None  # not even genesis is taken
        else:
            assert not follower.alarmed and follower.failure is None
    finally:
        follower.store.close()


# -- pinning the genesis ---------------------------------------------------------------------


def test_the_log_origin_carries_the_whole_genesis_hash(city: City) -> None:
    found = chain_identity(city.store, CITY)
    assert found is not None and found.genesis_hash == city.genesis_hash
    assert found.origin == f"localpay.city/{CITY}/{city.genesis_hash}"
    assert found.operator_key == city.operator_key
    head = city.store.head(CITY)
    assert head is not None
    body, _ = checkpoint.open_note(head.checkpoint)
    assert checkpoint.parse_checkpoint(body).origin == found.origin


WRONG = "cd" * 32


@pytest.mark.parametrize(
    ("pins", "says"),
    [
        (lambda city: Pins(WRONG, None), "not the pinned"),
        (lambda city: Pins(city.genesis_hash, WRONG), "operator key"),
    ],
    ids=["genesis", "operator key"],
)
def test_wrong_pins_refuse_the_chain_in_verify_import_and_witness(
    city: City, tmp_path: Path, pins: Callable[[City], Pins], says: str
) -> None:
    pinned = pins(city)
    report = verify_city(city.store, CITY, pins=pinned)
    assert not report.ok and report.pin_mismatch and says in report.problems[0]
    assert verify_city(city.store, CITY, pins=Pins(city.genesis_hash, city.operator_key)).ok

    archive = tmp_path / "city.archive"
    export_city(city.store, CITY, archive)
    target = open_store(f"sqlite:///{tmp_path}/target.db")
    try:
        with pytest.raises(PinRefused, match=says):
            import_city(target, archive, pins=pinned)
        assert target.head(CITY) is None and target.cities() == []
    finally:
        target.close()

    follower = _follow(city, tmp_path / "witness.db", lambda w: False, pins=pinned)
    try:
        assert isinstance(follower.failure, PinMismatch) and says in str(follower.failure)
        assert not follower.alarmed and follower.records.alarm(CITY) is None
        assert follower.store.head(CITY) is None and follower.records.signed_checkpoints(CITY) == {}
    finally:
        follower.store.close()


def test_a_witness_resuming_its_copy_checks_the_pins_before_anything(
    city: City, tmp_path: Path
) -> None:
    db = tmp_path / "witness.db"
    follower = _follow(city, db, _caught_up(city), pins=Pins(city.genesis_hash, city.operator_key))
    try:
        signed = follower.records.signed_checkpoints(CITY)
        height = follower.status()["verified_height"]
    finally:
        follower.store.close()
    again = _follow(city, db, lambda w: False, pins=Pins(WRONG, None))
    try:
        assert isinstance(again.failure, PinMismatch) and "not the pinned" in str(again.failure)
        assert again.records.signed_checkpoints(CITY) == signed
        assert again.status()["verified_height"] == -1  # stopped before taking its copy up
        head = again.store.head(CITY)
        assert head is not None and head.height == height
    finally:
        again.store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOCALPAY, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_pins_print_one_line_and_exit_1(city: City, tmp_path: Path) -> None:
    shown = _cli("--db", city.url, "genesis", "--city", CITY)
    assert shown.returncode == 0, shown.stderr
    assert city.genesis_hash in shown.stdout and city.operator_key in shown.stdout
    right = ["--genesis", city.genesis_hash, "--operator-key", city.operator_key]
    ok = _cli("--db", city.url, "verify", "--city", CITY, *right)
    assert ok.returncode == 0, ok.stderr
    wrong = _cli("--db", city.url, "verify", "--city", CITY, "--genesis", WRONG)
    assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
    assert "not the pinned" in wrong.stderr
    malformed = _cli("--db", city.url, "verify", "--city", CITY, "--genesis", "abc")
    assert malformed.returncode == 2 and "64 hex digits" in malformed.stderr

    archive = tmp_path / "city.archive"
    export_city(city.store, CITY, archive)
    target = f"sqlite:///{tmp_path}/target.db"
    refused = _cli("--db", target, "import", str(archive), "--operator-key", WRONG)
    assert refused.returncode == 1 and "operator key" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert CITY not in _cli("--db", target, "cities").stdout
    imported = _cli("--db", target, "import", str(archive), *right)
    assert imported.returncode == 0, imported.stderr

    key = tmp_path / "witness.key"
    key.write_text(bytes(city.witness_key).hex() + "\n")
    with live_server(city.url, city.keys) as base:
        witness_db = f"sqlite:///{tmp_path}/witness.db"
        argv = ["witness", "--city", CITY, "--follow", base, "--key", str(key), "--db", witness_db]
        refused = _cli(*argv, "--genesis", WRONG, "--poll", "0.05")
    assert refused.returncode == 1, refused.stderr
    assert "not the pinned" in refused.stderr.splitlines()[-1]
    store = open_store(witness_db)
    try:
        assert store.head(CITY) is None and SqlWitnessRecords(store).alarm(CITY) is None
    finally:
        store.close()
