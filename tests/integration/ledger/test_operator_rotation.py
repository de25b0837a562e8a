"""Rotating the operator key on the chain, on both stores: the sequencer switches keys
from the block after the rotation, verify follows the chain of keys from the pinned
genesis key, a block signed by the retired key is named, and a restart signs with
whichever key the chain says is current."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import nacl.signing
import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.codes import Code
from localpay.ledger.chain import sign_checkpoint, stored_genesis_hash
from localpay.ledger.log import checkpoint
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.replay import Pins, Replayer
from localpay.ledger.sequencer import Sequencer
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import (
    create_city,
    official_keys,
    rotate_operator,
)
from localpay.services.cities.verify import chain_identity, verify_city

CITY = "gimpo"


@dataclass
class World:
    store: Store
    keys: KeyStore
    ledgers: Ledgers
    genesis_key: nacl.signing.SigningKey

    def officials(self) -> list[nacl.signing.SigningKey]:
        return official_keys(self.keys, CITY)

    def open_wallet(self) -> Receipt:
        wallet = nacl.signing.SigningKey.generate()
        command = c.OpenWallet(
            id=new_id(),
            city=CITY,
            wallet=f"w-{new_id()[:8]}",
            keys=[public_key_hex(wallet)],
            custodial=False,
        )
        return self.ledgers.execute(CITY, sign_command(command, [wallet]))

    def rotation(self, new_key: str, *signers: nacl.signing.SigningKey) -> Receipt:
        state = self.ledgers.sequencer(CITY).state
        command = c.RotateOperator(
            id=new_id(), city=CITY, old_key=state.operator_key(), new_key=new_key
        )
        return self.ledgers.execute(CITY, sign_command(command, list(signers)))

    def pins(self) -> Pins:
        return Pins(stored_genesis_hash(self.store, CITY), public_key_hex(self.genesis_key))

    def block(self, height: int) -> tuple[bytes, bytes, str]:
        found = next(iter(self.store.blocks(CITY, height, height + 1)))
        return found.hash, found.signature, found.checkpoint


@pytest.fixture
def world(store: Store, keys: KeyStore) -> Iterator[World]:
    ledgers = Ledgers(store, keys, now_ms)
    assert create_city(ledgers, CITY, "김포시").ok
    yield World(store, keys, ledgers, keys.load(CITY, OPERATOR))
    ledgers.close()


def signed_by(key: nacl.signing.SigningKey, block: tuple[bytes, bytes, str]) -> bool:
    block_hash, signature, note = block
    try:
        key.verify_key.verify(block_hash, signature)
    except Exception:
        return False
    body, sigs = checkpoint.open_note(note)
    origin = checkpoint.parse_checkpoint(body).origin
    return checkpoint.verify_note_signature(body, sigs[0], origin, bytes(key.verify_key))


def test_a_rotation_with_the_quorum_switches_the_signing_key_from_the_next_block(
    world: World,
) -> None:
    assert world.open_wallet().ok
    done = rotate_operator(world.ledgers, CITY)
    assert done.receipt.ok, done.receipt
    assert done.old_key == public_key_hex(world.genesis_key)
    new = world.keys.load(CITY, done.key_name)
    assert public_key_hex(new) == done.new_key
    after = world.open_wallet()
    assert after.ok and after.height is not None and done.receipt.height is not None
    # The rotation's own block is vouched for by the old key; the next by the new one.
    assert signed_by(world.genesis_key, world.block(done.receipt.height))
    assert signed_by(new, world.block(after.height))
    assert not signed_by(world.genesis_key, world.block(after.height))
    report = verify_city(world.store, CITY, pins=world.pins())
    assert report.ok, report.problems
    identity = chain_identity(world.store, CITY)
    assert identity is not None
    assert identity.operator_key == done.old_key  # what a pin names: the genesis key
    assert identity.current_operator_key == done.new_key


def test_each_missing_signature_is_named_and_changes_nothing(world: World) -> None:
    new = public_key_hex(nacl.signing.SigningKey.generate())
    world.keys.create(CITY, "operator-1")  # a key the server could sign with
    new = public_key_hex(world.keys.load(CITY, "operator-1"))
    maker, checker = world.officials()
    operator = world.genesis_key
    assert world.rotation(new, maker, checker).code == Code.OPERATOR_SIGNATURE_MISSING
    assert world.rotation(new, operator).code == Code.SIGNER_NOT_AUTHORIZED
    assert world.rotation(new, operator, maker).code == Code.APPROVALS_MISSING
    assert world.ledgers.sequencer(CITY).state.operator_key() == public_key_hex(operator)
    after = world.open_wallet()
    assert after.height is not None and signed_by(operator, world.block(after.height))
    assert verify_city(world.store, CITY, pins=world.pins()).ok


def test_a_rotation_to_a_key_the_server_lacks_is_refused_and_not_recorded(world: World) -> None:
    maker, checker = world.officials()
    stranger = public_key_hex(nacl.signing.SigningKey.generate())
    refused = world.rotation(stranger, world.genesis_key, maker, checker)
    assert refused.code == Code.OPERATOR_KEY_UNAVAILABLE
    assert world.store.find_tx(CITY, refused.id) is None  # the id stays unused
    assert world.open_wallet().ok


def test_a_block_signed_by_the_retired_key_after_the_rotation_is_named(world: World) -> None:
    done = rotate_operator(world.ledgers, CITY)
    assert done.receipt.ok
    after = world.open_wallet()
    assert after.height is not None
    world.ledgers.close()
    # The old key, stolen, re-signs a block that the new key must sign.
    block_hash, _, note = world.block(after.height)
    body, _ = checkpoint.open_note(note)
    point = checkpoint.parse_checkpoint(body)
    forged = world.genesis_key.sign(block_hash).signature
    world.store.sql(
        "UPDATE blocks SET signature = ? WHERE city = ? AND height = ?",
        (forged, CITY, after.height),
    )
    report = verify_city(world.store, CITY, pins=world.pins())
    assert not report.ok
    problem = report.problems[0]
    assert f"block {after.height}" in problem
    assert f"retired operator key {done.old_key}" in problem
    assert done.receipt.id in problem
    # The block's signature put back, its checkpoint re-signed by the old key: named too.
    new = world.keys.load(CITY, done.key_name)
    world.store.sql(
        "UPDATE blocks SET signature = ?, checkpoint = ? WHERE city = ? AND height = ?",
        (
            new.sign(block_hash).signature,
            sign_checkpoint(point.origin, point.size, point.root, world.genesis_key),
            CITY,
            after.height,
        ),
    )
    problem = verify_city(world.store, CITY, pins=world.pins()).problems[0]
    assert "checkpoint not signed by the operator" in problem
    assert f"retired operator key {done.old_key}" in problem


def test_a_restart_after_the_rotation_signs_with_the_key_the_chain_names(
    world: World,
) -> None:
    done = rotate_operator(world.ledgers, CITY)
    assert done.receipt.ok
    world.ledgers.close()
    new = world.keys.load(CITY, done.key_name)
    # A crash between the rotation's commit and the switch: a sequencer that still holds
    # the old key in memory signs with the one the chain says is current.
    keyring = {public_key_hex(new): new}
    with Sequencer(CITY, world.store, world.genesis_key, now_ms, operator_keys=keyring.get) as seq:
        wallet = nacl.signing.SigningKey.generate()
        command = c.OpenWallet(
            id=new_id(),
            city=CITY,
            wallet="w-restart",
            keys=[public_key_hex(wallet)],
            custodial=False,
        )
        receipt = seq.submit(sign_command(command, [wallet])).result(30)
    assert receipt.ok and receipt.height is not None
    assert signed_by(new, world.block(receipt.height))
    # And a restarted server whose genesis key was destroyed after the rotation.
    (world.keys.root / CITY / f"{OPERATOR}.key").unlink()
    ledgers = Ledgers(world.store, world.keys, now_ms)
    try:
        world.ledgers = ledgers
        after = world.open_wallet()
        assert after.ok and after.height is not None
        assert signed_by(new, world.block(after.height))
    finally:
        ledgers.close()
    assert verify_city(world.store, CITY, pins=world.pins()).ok


def test_a_sequencer_without_the_current_key_refuses_to_start(world: World) -> None:
    assert rotate_operator(world.ledgers, CITY).receipt.ok
    world.ledgers.close()
    with pytest.raises(Exception, match="holds no private key"):
        Sequencer(CITY, world.store, world.genesis_key, now_ms).start()


def test_the_cli_rotates_and_localpay_verify_passes_across_the_rotations(
    world: World, store_url: str
) -> None:
    assert world.open_wallet().ok
    world.ledgers.close()  # the command takes the city's lease
    cli = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", store_url]
    cli += ["--keys", str(world.keys.root)]
    for n in (1, 2):
        done = subprocess.run(
            [*cli, "operator", "rotate", "--city", CITY],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "rotated the operator key" in done.stdout and f"operator-{n}" in done.stdout
    pins = world.pins()
    assert pins.genesis is not None and pins.operator_key is not None
    verified = subprocess.run(
        [
            *cli,
            "verify",
            "--city",
            CITY,
            "--genesis",
            pins.genesis,
            "--operator-key",
            pins.operator_key,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert "state matches" in verified.stdout
    identity = chain_identity(world.store, CITY)
    assert identity is not None
    assert identity.current_operator_key == public_key_hex(world.keys.load(CITY, "operator-2"))


def test_a_replay_resumed_after_the_rotation_expects_the_new_key(world: World) -> None:
    # A witness's or an import's replay that resumes from its stored state (restart).
    done = rotate_operator(world.ledgers, CITY)
    assert done.receipt.ok
    replayer = Replayer.resume(world.store, CITY, world.pins())
    assert replayer.operator is not None
    assert bytes(replayer.operator).hex() == done.new_key


def test_without_the_operator_the_ledger_refuses_before_any_key_is_looked_up(
    world: World,
) -> None:
    # The officials alone, to a key no one holds: refused for the missing signature,
    # recorded, as any official command; the key store is only asked for the operator's.
    maker, checker = world.officials()
    stranger = public_key_hex(nacl.signing.SigningKey.generate())
    refused = world.rotation(stranger, maker, checker)
    assert refused.code == Code.OPERATOR_SIGNATURE_MISSING
    assert world.store.find_tx(CITY, refused.id) is not None
