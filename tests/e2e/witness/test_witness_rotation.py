"""Across an operator key rotation, on both stores: a witness following a live server
co-signs the new key's checkpoints, a receipt from after the rotation verifies offline
with only the genesis key pinned (in localpay and in tools/verify_receipt.py), and a
block the retired key signed after the rotation is refused by the witness, named."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from localpay.adapters.clock import now_ms as _now_ms
from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.blocks import decode_header
from localpay.ledger.chain import stored_genesis_hash
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store
from localpay.ledger.replay import Pins
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import official_keys, rotate_operator
from localpay.services.cities.verify import verify_city
from localpay.services.transparency.service import Transparency
from localpay.services.transparency.verifier import verify_receipt
from localpay.services.witness.forks import agrees_with_peer
from localpay.services.witness.service import Witness
from localpay.sim.bench import BenchCity
from localpay.testing.servers import follow_live_server

CITY = "gimpo"
WITNESS = "w0.example"
TOOL = Path(__file__).resolve().parents[3] / "tools" / "verify_receipt.py"


@dataclass
class City:
    url: str
    store: Store
    keys: Path
    witness_key: nacl.signing.SigningKey
    genesis_hash: str
    genesis_key: nacl.signing.SigningKey
    new_key: nacl.signing.SigningKey
    rotation_height: int
    last_payment: str

    def size(self) -> int:
        head = self.store.head(CITY)
        assert head is not None
        return decode_header(head.header_bytes).log_size

    def pins(self) -> Pins:
        return Pins(self.genesis_hash, public_key_hex(self.genesis_key))


@pytest.fixture
def city(store_url: str, tmp_path: Path) -> Iterator[City]:
    """A city with one witness (quorum 1), payments on both sides of a rotation."""
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
            witnesses=[c.Witness(name=WITNESS, key=public_key_hex(witness_key))],
            quorum=1,
        )
        officials = official_keys(ledgers.keys, CITY)[:2]
        assert ledgers.execute(CITY, sign_command(command, officials)).ok
        payments = bench.payments(6)
        for payment in payments[:3]:
            assert ledgers.execute(CITY, payment).ok
        done = rotate_operator(ledgers, CITY)
        assert done.receipt.ok and done.receipt.height is not None
        last = [ledgers.execute(CITY, payment) for payment in payments[3:]]
        assert all(r.ok for r in last)
        new_key = ledgers.keys.load(CITY, done.key_name)
        genesis_key = ledgers.keys.load(CITY, OPERATOR)
    finally:
        ledgers.close()
    genesis_hash = stored_genesis_hash(store, CITY)
    assert genesis_hash is not None
    yield City(
        store_url,
        store,
        keys,
        witness_key,
        genesis_hash,
        genesis_key,
        new_key,
        done.receipt.height,
        last[-1].id,
    )
    store.close()


def _follow(city: City, db: Path, until: Callable[[Witness], bool]) -> Witness:
    return follow_live_server(
        city.url, city.keys, city.witness_key, db, until, city=CITY, pins=city.pins(), page_blocks=2
    )


def _tool(receipt: dict[str, Any], tmp_path: Path, *pins: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return subprocess.run(
        [sys.executable, str(TOOL), str(path), *pins], capture_output=True, text=True, check=False
    )


def test_a_witness_follows_and_a_receipt_after_the_rotation_verifies_with_the_genesis_key(
    city: City, tmp_path: Path
) -> None:
    size = city.size()
    follower = _follow(city, tmp_path / "w.db", lambda w: w.status()["signed_size"] == size)
    try:
        assert not follower.alarmed and follower.failure is None
        assert verify_city(follower.store, CITY, pins=city.pins()).ok
        # Gossip compares a peer's note signed by the key of its size: the new key now.
        head = city.store.head(CITY)
        assert head is not None
        assert agrees_with_peer(follower.store, CITY, "peer", head.checkpoint, size)
        body, _ = checkpoint.open_note(head.checkpoint)
        origin = checkpoint.parse_checkpoint(body).origin
        line = checkpoint.sign_note(body, origin, bytes(city.genesis_key))
        by_retired = checkpoint.note_text(body, [line])
        assert not agrees_with_peer(follower.store, CITY, "peer", by_retired, size)
    finally:
        follower.store.close()
    tp = Transparency(city.store).start(background=False)
    try:
        receipt = tp.receipt(CITY, city.last_payment)
        # Each checkpoint view names the key that signed it: old up to the rotation's block.
        views, _ = tp.checkpoints(CITY, limit=100)
        signers = {v.height: v.signers[0].key for v in views}
    finally:
        tp.close()
    assert signers[city.rotation_height] == public_key_hex(city.genesis_key)
    assert signers[city.rotation_height + 1] == public_key_hex(city.new_key)
    assert receipt["final"] and receipt["operator_key"] == public_key_hex(city.genesis_key)
    (rotation,) = receipt["operator_rotations"]
    assert rotation["tree_size"] < receipt["tree_size"]
    genesis = public_key_hex(city.genesis_key)
    witness = f"{WITNESS}={public_key_hex(city.witness_key)}"
    checks = verify_receipt(receipt, genesis, [(WITNESS, public_key_hex(city.witness_key))], 1)
    assert [ch.status for ch in checks] == ["ok"] * len(checks), [ch.line() for ch in checks]
    operator = next(ch for ch in checks if ch.name == "operator")
    assert public_key_hex(city.new_key) in operator.message and "1 rotation" in operator.message
    standalone = _tool(
        receipt, tmp_path, "--operator-key", genesis, "--witness", witness, "--quorum", "1"
    )
    assert standalone.returncode == 0, standalone.stdout + standalone.stderr
    assert "FINAL" in standalone.stdout

    # Without the rotation's evidence, the new key's checkpoint does not root in the pin.
    stripped = {**receipt, "operator_rotations": []}
    assert _status(verify_receipt(stripped, genesis), "operator") == "FAIL"
    assert _tool(stripped, tmp_path, "--operator-key", genesis).returncode == 1
    # A rotation that the old key did not sign (an edited new key) breaks the chain.
    forged = json.loads(json.dumps(receipt))
    tx = forged["operator_rotations"][0]["transaction"]
    tx["envelope"] = tx["envelope"].replace(public_key_hex(city.new_key), "29" * 32)
    assert _status(verify_receipt(forged, genesis), "operator") == "FAIL"
    assert _tool(forged, tmp_path, "--operator-key", genesis).returncode == 1


def _status(checks: list[Any], name: str) -> str:
    return str(next(ch.status for ch in checks if ch.name == name))


def test_a_witness_refuses_a_block_signed_by_the_retired_key_and_names_it(
    city: City, tmp_path: Path
) -> None:
    height = city.rotation_height + 1
    block = next(iter(city.store.blocks(CITY, height, height + 1)))
    city.store.sql(
        "UPDATE blocks SET signature = ? WHERE city = ? AND height = ?",
        (city.genesis_key.sign(block.hash).signature, CITY, height),
    )
    follower = _follow(city, tmp_path / "w.db", lambda w: w.alarmed)
    try:
        status = follower.status()
        assert status["reason"] == "invalid_signature" and status["height"] == height, status
        assert f"retired operator key {public_key_hex(city.genesis_key)}" in status["detail"]
    finally:
        follower.store.close()
