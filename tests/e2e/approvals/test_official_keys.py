"""Officials who hold their own keys: the server never has them, and still the two
signatures of maker-checker reach the chain. On a live server, both stores."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container, open_identity
from localpay.domain.commands import signing_message
from localpay.sim.demo import DEMO_PASSWORD, demo_checker
from localpay.testing.servers import FAST_HASHER, World, live_container, problem_code, seeded_store

CITY = "gimpo"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("officials")
    url = seeded_store(request, folder)
    # As `make run` does: the checker's key leaves the server's key folder for the
    # checker's own, and the checker's log-in names only its public key.
    held = folder / "officials" / CITY / "checker.key"
    public = KeyStore(folder / "keys").hand_over(CITY, "official-checker", held)
    with live_container(url, folder / "keys") as (base, container, _):
        demo_checker_self(container, bytes(public).hex())
        found = World(base, folder / "keys")
        found.held = held  # type: ignore[attr-defined]
        yield found


def demo_checker_self(container: Container, public_hex: str) -> None:
    identity = open_identity(container.store, container.clock, FAST_HASHER)
    store_users = container.store.sql("SELECT username FROM principals WHERE city = ?", (CITY,))
    assert ("checker",) in [tuple(r) for r in store_users]  # the seed's custodial checker
    container.store.sql("DELETE FROM principals WHERE city = ? AND username = ?", (CITY, "checker"))
    demo_checker(identity, CITY, public_hex)


def _key() -> str:
    return os.urandom(16).hex()


def _propose_mint(world: World, amount: int) -> dict[str, object]:
    with world.client(world.login(CITY, "maker")) as maker:
        r = maker.post(
            f"/v1/cities/{CITY}/proposals",
            json={
                "kind": "mint",
                "params": {"program": "general", "amount": amount, "won_ref": f"d-{_key()[:8]}"},
            },
            headers={"Idempotency-Key": _key()},
        )
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    return dict(r.json())


def test_the_server_holds_no_key_of_the_checker(world: World) -> None:
    assert "official-checker" not in KeyStore(world.keys).names(CITY)
    assert "official-maker" in KeyStore(world.keys).names(CITY)
    held: Path = world.held  # type: ignore[attr-defined]
    assert stat.S_IMODE(held.stat().st_mode) == 0o600


def test_a_self_held_checker_must_send_a_valid_signature(world: World) -> None:
    proposal = _propose_mint(world, 1_000)
    with world.client(world.login(CITY, "checker")) as checker:
        path = f"/v1/cities/{CITY}/proposals/{proposal['id']}/approvals"
        bare = checker.post(path, headers={"Idempotency-Key": _key()})
        assert bare.status_code == 422 and problem_code(bare) == "signature_required"
        # Signed by the wrong key (the maker's, which the server holds), over the body.
        maker_key = KeyStore(world.keys).load(CITY, "official-maker")
        body = str(proposal["body"]).encode()
        forged = {
            "key": bytes(maker_key.verify_key).hex(),
            "sig": maker_key.sign(signing_message(body)).signature.hex(),
        }
        wrong = checker.post(path, json={"signature": forged}, headers={"Idempotency-Key": _key()})
        assert wrong.status_code == 422 and problem_code(wrong) == "official_signature_invalid"
        shown = checker.get(f"/v1/cities/{CITY}/proposals/{proposal['id']}").json()
    assert shown["status"] == "pending" and len(shown["signed_by"]) == 1


def test_the_checker_approves_with_the_cli_and_both_signatures_are_on_the_chain(
    world: World,
) -> None:
    proposal = _propose_mint(world, 2_000)
    held: Path = world.held  # type: ignore[attr-defined]
    done = _approve_with_cli(world, str(proposal["id"]), held)
    assert done.returncode == 0, done.stderr
    assert "submitted" in done.stdout and "ledger ok" in done.stdout, done.stdout
    with world.client(world.login(CITY, "auditor")) as auditor:
        shown = auditor.get(f"/v1/cities/{CITY}/proposals/{proposal['id']}").json()
        tx = auditor.get(f"/v1/cities/{CITY}/transactions/{shown['receipt']['id']}").json()
    assert len(set(tx["signers"])) == 2
    # Running it again changes nothing: the same proposal, the same transaction.
    again = _approve_with_cli(world, str(proposal["id"]), held)
    assert again.returncode == 0 and shown["receipt"]["id"] in again.stdout, again.stderr


def test_the_cli_refuses_a_bad_key_file_in_one_line(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not hex\n")
    done = _approve_with_cli(world, "pr-0000000000000000", bad)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def _approve_with_cli(world: World, proposal: str, key: Path) -> subprocess.CompletedProcess[str]:
    """`localpay official approve` as the checker would run it, password on stdin."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "localpay.entrypoints.cli",
            "official",
            "approve",
            proposal,
            "--city",
            CITY,
            "--username",
            "checker",
            "--key",
            str(key),
            "--url",
            world.base,
            "--password-stdin",
        ],
        input=DEMO_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
