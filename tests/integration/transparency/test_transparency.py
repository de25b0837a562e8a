"""Receipts, consistency proofs and witnesses' cosignatures, on SQLite and PostgreSQL.

A city is built through the real services; its witnesses are set on the chain by a
`set_witnesses` command signed by two officials, and they cosign checkpoints with
real Ed25519 keys (C2SP cosignature/v1). Every proof is checked with ledger.merkle's
verifiers and every receipt with the offline verifier.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import argon2
import msgspec
import nacl.signing
import pytest
from fastapi.testclient import TestClient

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import Container, open_store
from localpay.domain import commands as c
from localpay.entrypoints.api.app import create_app
from localpay.ledger.blocks import decode_header
from localpay.ledger.chain import tx_leaf_hashes
from localpay.ledger.log import checkpoint, merkle
from localpay.ledger.ports import Store
from localpay.ledger.receipt import Receipt
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import official_keys
from localpay.services.identity.service import login_message
from localpay.services.transparency.service import (
    CheckpointNotFound,
    InvalidCosignature,
    MalformedCosignature,
    ProofRangeError,
    Transparency,
    UnknownWitness,
)
from localpay.services.transparency.verifier import Check, verify_receipt
from localpay.sim.bench import BenchCity

CITY = "tp-city"
PASSWORD = "correct horse battery"


def now_ms() -> int:
    return int(time.time() * 1000)


def set_witnesses(
    ledgers: Ledgers, witnesses: list[tuple[str, nacl.signing.SigningKey]], quorum: int
) -> Receipt:
    """A set_witnesses command signed by two officials (the city's maker-checker rule)."""
    command = c.SetWitnesses(
        id=new_id(),
        city=CITY,
        witnesses=[c.Witness(name=n, key=public_key_hex(k)) for n, k in witnesses],
        quorum=quorum,
    )
    return ledgers.execute(CITY, sign_command(command, official_keys(ledgers.keys, CITY)[:2]))


@dataclass
class City:
    url: str
    keys_dir: Path
    store: Store
    ledgers: Ledgers
    tp: Transparency
    bench: BenchCity
    payments: list[Receipt]
    witnesses: list[tuple[str, nacl.signing.SigningKey]] = field(default_factory=list)

    @property
    def operator_key(self) -> str:
        return public_key_hex(self.ledgers.keys.load(CITY, OPERATOR))

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        """(size, root, note body) of every block, in height order."""
        out = []
        for block in self.store.blocks(CITY):
            body, _ = checkpoint.open_note(block.checkpoint)
            point = checkpoint.parse_checkpoint(body)
            out.append((point.size, point.root, body))
        return out

    def cosign(self, size: int, which: int, timestamp: int | None = None) -> str:
        body = next(b for s, _, b in self.checkpoints() if s == size)
        name, key = self.witnesses[which]
        return checkpoint.cosign(body, name, bytes(key), timestamp or int(time.time()))

    def pay(self, count: int, seed: int) -> list[Receipt]:
        """Payments one at a time: one block (and checkpoint) each."""
        return [self.ledgers.execute(CITY, p) for p in self.bench.payments(count, seed)]


@pytest.fixture
def city(store_url: str, tmp_path: Path) -> Iterator[City]:
    store = open_store(store_url)
    keys_dir = tmp_path / "city-keys"
    ledgers = Ledgers(store, KeyStore(keys_dir), now_ms)
    bench = BenchCity(ledgers, CITY)
    bench.set_up(wallets=6, merchants=2)
    tp = Transparency(store, ledgers).start(background=False)
    built = City(store_url, keys_dir, store, ledgers, tp, bench, [])
    built.payments = built.pay(8, seed=1)
    assert all(r.ok for r in built.payments)
    built.witnesses = [
        (f"witness-{n}.example", nacl.signing.SigningKey.generate()) for n in range(3)
    ]
    assert set_witnesses(ledgers, built.witnesses, quorum=2).ok
    built.payments += built.pay(4, seed=2)
    yield built
    tp.close()
    ledgers.close()
    store.close()


def log_size(store: Store) -> int:
    head = store.head(CITY)
    assert head is not None
    return decode_header(head.header_bytes).log_size


def statuses(checks: list[Check]) -> dict[str, str]:
    return {ch.name: ch.status for ch in checks}


# -- the store ---------------------------------------------------------------------------------


def test_leaf_hashes_are_the_chain_leaves_paged_and_contiguous(city: City) -> None:
    expected = tx_leaf_hashes(list(city.store.txs(CITY)))
    n = len(expected)
    assert city.store.leaf_hashes(CITY, 0, n + 100) == expected
    assert city.store.leaf_hashes(CITY, 5, 9) == expected[5:9]
    assert city.store.leaf_hashes(CITY, n, n + 5) == []
    assert city.store.leaf_hashes("no-such-city", 0, 10) == []
    if hasattr(city.store, "hash_page_rows"):
        city.store.hash_page_rows = 3  # many pages
        assert city.store.leaf_hashes(CITY, 1, n) == expected[1:]
    city.store.sql("DELETE FROM txs WHERE city = ? AND seq = ?", (CITY, 7))
    assert city.store.leaf_hashes(CITY, 0, n) == expected[:7]  # stops at the hole


def test_cosignature_rows(city: City) -> None:
    store = city.store
    assert store.add_cosignature(CITY, 10, "bb" * 32, "— b AAAA", 5)
    assert not store.add_cosignature(CITY, 10, "bb" * 32, "— b BBBB", 6)  # first one stays
    assert store.add_cosignature(CITY, 10, "aa" * 32, "— a AAAA", 7)
    assert store.add_cosignature(CITY, 12, "aa" * 32, "— a CCCC", 8)
    assert store.add_cosignature("other", 12, "bb" * 32, "— b DDDD", 9)
    assert store.cosignatures(CITY, 10) == [("aa" * 32, "— a AAAA", 7), ("bb" * 32, "— b AAAA", 5)]
    assert store.cosignatures(CITY, 11) == []
    keys = ["aa" * 32, "bb" * 32]
    assert store.cosigned_sizes(CITY, keys, 1) == [12, 10]
    assert store.cosigned_sizes(CITY, keys, 2) == [10]
    assert store.cosigned_sizes(CITY, keys, 1, before=12) == [10]
    assert store.cosigned_sizes(CITY, keys, 1, limit=1) == [12]
    assert store.cosigned_sizes(CITY, ["bb" * 32], 1) == [10]
    assert store.cosigned_sizes(CITY, ["cc" * 32], 1) == []
    assert store.cosigned_sizes(CITY, [], 1) == []
    assert store.cosigned_sizes(CITY, keys, 3) == []


# -- proofs -------------------------------------------------------------------------------------


def test_every_receipt_verifies_against_its_block(city: City) -> None:
    points = {s: r for s, r, _ in city.checkpoints()}
    txs = list(city.store.txs(CITY))
    for tx in txs:
        receipt = city.tp.receipt(CITY, tx.id)
        assert receipt["tree_size"] in points and receipt["tree_size"] > tx.seq
        assert not receipt["final"]
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
        leaf = merkle.leaf_hash(tx.leaf())
        assert merkle.verify_inclusion(
            leaf, tx.seq, receipt["tree_size"], proof, points[receipt["tree_size"]]
        )
        checks = verify_receipt(receipt, operator_key=city.operator_key, allow_unpinned=True)
        assert [ch.name for ch in checks] == [
            "format",
            "transaction",
            "leaf",
            "checkpoint",
            "operator",
            "inclusion",
            "cosignatures",
            "quorum",
        ]
        assert all(ch.status == "ok" for ch in checks[:-1]), [ch.line() for ch in checks]
        assert checks[-1].status == "warn" and "NOT FINAL" in checks[-1].message
    # Genesis is in the log as leaf 0, and its receipt names the operator's signature.
    assert city.tp.receipt(CITY, txs[0].id)["transaction"]["kind"] == "create_city"


def test_consistency_between_every_pair_of_checkpoints(city: City) -> None:
    points = city.checkpoints()
    assert len(points) > 15
    for (old, old_root, _), (new, new_root, _) in itertools.combinations_with_replacement(
        points, 2
    ):
        proof = city.tp.consistency(CITY, old, new)
        assert proof.old == old and proof.new == new
        hashes = [bytes.fromhex(h) for h in proof.proof]
        assert merkle.verify_consistency(old, new, old_root, new_root, hashes), (old, new)
        if old != new:
            assert not merkle.verify_consistency(old, new, new_root, new_root, hashes)
    size = log_size(city.store)
    assert city.tp.consistency(CITY, 0, size).proof == []
    for old, new in [(3, 2), (-1, 2), (0, size + 1)]:
        with pytest.raises(ProofRangeError):
            city.tp.consistency(CITY, old, new)


def test_cosignatures_make_checkpoints_final_and_receipts_follow(city: City) -> None:
    sizes = [s for s, _, _ in city.checkpoints()]
    first = sizes[-4]  # a checkpoint the last three payments are not in
    view, added = city.tp.add_cosignature(CITY, first, city.cosign(first, 0))
    assert added and not view.final and view.cosignatures == 1
    # The same witness again (even with another timestamp) changes nothing.
    view, added = city.tp.add_cosignature(CITY, first, city.cosign(first, 0, 1_700_000_000))
    assert not added and view.cosignatures == 1
    assert city.tp.latest_final(CITY) is None
    view, added = city.tp.add_cosignature(CITY, first, city.cosign(first, 1).rstrip("\n"))
    assert added and view.final and view.cosignatures == 2
    assert [s.role for s in view.signers] == ["operator", "witness", "witness"]
    assert {s.name for s in view.signers[1:]} == {n for n, _ in city.witnesses[:2]}
    assert city.tp.latest_final(CITY) == first
    assert checkpoint.open_note(view.note)[1][0].name.startswith(f"localpay.city/{CITY}/")
    assert len(checkpoint.open_note(view.note)[1]) == 3

    pinned = [(n, public_key_hex(k)) for n, k in city.witnesses]
    old_tx = city.payments[0]
    receipt = city.tp.receipt(CITY, old_tx.id)
    assert receipt["tree_size"] == first and receipt["final"]
    assert receipt["quorum"] == 2 and len(receipt["witnesses"]) == 3
    checks = verify_receipt(receipt, city.operator_key, pinned, 2, require_final=True)
    assert all(ch.status == "ok" for ch in checks), [ch.line() for ch in checks]
    # A transaction after the final checkpoint: proved to its own block, not final.
    late = city.payments[-1]
    receipt = city.tp.receipt(CITY, late.id)
    assert receipt["tree_size"] > first and not receipt["final"]
    assert statuses(verify_receipt(receipt, city.operator_key))["quorum"] == "warn"

    # A later checkpoint cosigned by a quorum: older receipts now prove to it.
    city.pay(2, seed=3)
    last = log_size(city.store)
    for which in (1, 2):
        city.tp.add_cosignature(CITY, last, city.cosign(last, which))
    assert city.tp.latest_final(CITY) == last
    for tx in (old_tx, late):
        receipt = city.tp.receipt(CITY, tx.id)
        assert receipt["tree_size"] == last and receipt["final"]
        checks = verify_receipt(receipt, city.operator_key, pinned, 2, require_final=True)
        assert all(ch.status == "ok" for ch in checks), [ch.line() for ch in checks]
    # The checkpoints list shows both as final, newest first.
    items, _ = city.tp.checkpoints(CITY, limit=100)
    finals = [i.size for i in items if i.final]
    assert finals == [last, first]
    assert [i.size for i in items] == sorted((i.size for i in items), reverse=True)

    # A new witness set: finality is judged by the current set only.
    newcomer = ("witness-new.example", nacl.signing.SigningKey.generate())
    assert set_witnesses(city.ledgers, [city.witnesses[0], newcomer], quorum=2).ok
    assert city.tp.latest_final(CITY) is None  # `last` had witness-1 and witness-2 only
    assert not city.tp.checkpoint(CITY, last).final
    assert city.tp.checkpoint(CITY, first).cosignatures == 1  # witness-0's still counts


def test_refusals(city: City) -> None:
    sizes = [s for s, _, _ in city.checkpoints()]
    size, other = sizes[-1], sizes[-2]
    body = next(b for s, _, b in city.checkpoints() if s == size)
    stranger = nacl.signing.SigningKey.generate()
    with pytest.raises(UnknownWitness, match="not a witness"):
        city.tp.add_cosignature(CITY, size, checkpoint.cosign(body, "stranger", bytes(stranger), 1))
    with pytest.raises(UnknownWitness, match="key id"):  # a witness's name, another key
        name = city.witnesses[0][0]
        city.tp.add_cosignature(CITY, size, checkpoint.cosign(body, name, bytes(stranger), 1))
    with pytest.raises(InvalidCosignature, match="does not verify"):  # another checkpoint's
        city.tp.add_cosignature(CITY, size, city.cosign(other, 0))
    with pytest.raises(InvalidCosignature, match="plain signed-note"):
        name, key = city.witnesses[0]
        city.tp.add_cosignature(CITY, size, checkpoint.sign_note(body, name, bytes(key)))
    for line in ["", "hello", "— witness-0.example !!!", "a\nb", city.cosign(size, 0) * 2]:
        with pytest.raises(MalformedCosignature):
            city.tp.add_cosignature(CITY, size, line)
    inside = next(s for s in range(1, size) if s not in sizes)  # within a block
    for bad_size in [0, inside, size + 1, 2**61]:
        with pytest.raises(CheckpointNotFound):
            city.tp.add_cosignature(CITY, bad_size, city.cosign(size, 0))
    assert city.store.cosignatures(CITY, size) == []


def test_the_observer_keeps_the_log_current(city: City) -> None:
    log = city.tp._logs[CITY].log
    assert log.size == log_size(city.store)
    city.pay(3, seed=4)
    assert log.size == log_size(city.store)  # appended by the observer, no read needed
    assert log.root() == bytes.fromhex(
        decode_header(city.store.head(CITY).header_bytes).log_root  # type: ignore[union-attr]
    )


def test_a_fresh_service_loads_the_log_in_pages(city: City) -> None:
    fresh = Transparency(city.store, page=5).start()
    try:
        assert fresh.log(CITY).root() == city.tp.log(CITY).root()
        receipt = fresh.receipt(CITY, city.payments[2].id)
        assert statuses(verify_receipt(receipt))["inclusion"] == "ok"
    finally:
        fresh.close()


# -- the HTTP API ---------------------------------------------------------------------------------


@pytest.fixture
def api(city: City) -> Iterator[tuple[TestClient, City]]:
    container = Container(
        city.url,
        str(city.keys_dir),
        argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    app = create_app(container)
    container.identity.create_user(CITY, "city_auditor", "auditor", PASSWORD)
    with TestClient(app) as client:
        yield client, city


def _auditor(client: TestClient) -> dict[str, str]:
    container = client.app.state.container  # type: ignore[attr-defined]
    return {"authorization": "Bearer " + container.identity.login(CITY, "auditor", PASSWORD)}


def _citizen(client: TestClient, city: City, wallet: str) -> dict[str, str]:
    identity = client.app.state.container.identity  # type: ignore[attr-defined]
    nonce = identity.challenge(CITY, wallet)
    key = city.bench.wallet_keys[wallet]
    signature = key.sign(login_message(CITY, wallet, nonce)).signature.hex()
    token = identity.citizen_login(CITY, wallet, nonce, public_key_hex(key), signature)
    return {"authorization": f"Bearer {token}"}


def test_api_checkpoints_cosignatures_and_proofs(api: tuple[TestClient, City]) -> None:
    client, city = api
    base = f"/v1/cities/{CITY}"
    page = client.get(f"{base}/checkpoints", params={"limit": 5})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert len(items) == 5 and items[0]["size"] == log_size(city.store)
    assert [i["height"] for i in items] == sorted((i["height"] for i in items), reverse=True)
    older = client.get(f"{base}/checkpoints", params={"cursor": page.json()["next"], "limit": 5})
    assert older.json()["items"][0]["height"] == items[-1]["height"] - 1
    size = items[1]["size"]
    one = client.get(f"{base}/checkpoints/{size}").json()
    assert one["size"] == size and one["final"] is False and one["signers"][0]["role"] == "operator"
    assert client.get(f"{base}/checkpoints/latest").status_code == 200  # reads.py's route
    sizes = {s for s, _, _ in city.checkpoints()}
    inside = next(s for s in range(1, size) if s not in sizes)  # within a block
    assert client.get(f"{base}/checkpoints/{inside}").json()["code"] == "not_found"
    assert client.get(f"{base}/checkpoints/{10**30}").json()["code"] == "not_found"
    assert client.get("/v1/cities/nowhere/checkpoints").status_code == 404

    url = f"{base}/checkpoints/{size}/cosignatures"

    def post(line: str, key: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        answer = client.post(url, json={"line": line}, headers={"idempotency-key": key})
        return answer.status_code, answer.json()

    status, body = post(city.cosign(size, 0), "k1")
    assert status == 201 and body["cosignatures"] == 1 and not body["final"]
    status, body = post(city.cosign(size, 0, 1_600_000_000), "k2")
    assert status == 200 and body["cosignatures"] == 1
    status, body = post(city.cosign(size, 2), "k3")
    assert status == 201 and body["final"] and body["cosignatures"] == 2
    assert {s["name"] for s in body["signers"] if s["role"] == "witness"} == {
        city.witnesses[0][0],
        city.witnesses[2][0],
    }
    stranger = checkpoint.cosign(
        checkpoint.open_note(one["note"])[0],
        "stranger",
        bytes(nacl.signing.SigningKey.generate()),
        1,
    )
    assert post(stranger, "k4")[0] == 403
    assert post(stranger, "k5")[1]["code"] == "forbidden"  # not a witness
    assert post(city.cosign(items[0]["size"], 1), "k6")[1]["code"] == "forbidden"  # bad sig
    assert post("— nonsense", "k7")[0] == 422
    assert post(city.cosign(size, 1), "k8")[0] == 201
    missing = client.post(
        f"{base}/checkpoints/{inside}/cosignatures",
        json={"line": city.cosign(size, 1)},
        headers={"idempotency-key": "k9"},
    )
    assert missing.status_code == 404

    proof = client.get(f"{base}/proofs/consistency", params={"old": size, "new": items[0]["size"]})
    assert proof.status_code == 200
    roots = {s: r for s, r, _ in city.checkpoints()}
    assert merkle.verify_consistency(
        size,
        items[0]["size"],
        roots[size],
        roots[items[0]["size"]],
        [bytes.fromhex(h) for h in proof.json()["proof"]],
    )
    bad = client.get(f"{base}/proofs/consistency", params={"old": 5, "new": 4})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"


def test_api_receipts_follow_the_transaction_access_rule(api: tuple[TestClient, City]) -> None:
    client, city = api
    pay = city.payments[0]
    tx = city.store.find_tx(CITY, pay.id)
    assert tx is not None
    payer = msgspec.json.decode(tx.envelope)["body"]["wallet"]
    other = next(w for w in city.bench.wallet_keys if w != payer)
    url = f"/v1/cities/{CITY}/transactions/{pay.id}/receipt"
    assert client.get(url).status_code == 401
    staff = client.get(url, headers=_auditor(client))
    assert staff.status_code == 200, staff.text
    own = client.get(url, headers=_citizen(client, city, payer))
    assert own.status_code == 200 and own.json() == staff.json()
    assert client.get(url, headers=_citizen(client, city, other)).status_code == 404
    assert (
        client.get(
            f"/v1/cities/{CITY}/transactions/{'0' * 32}/receipt", headers=_auditor(client)
        ).status_code
        == 404
    )
    checks = verify_receipt(staff.json(), operator_key=city.operator_key)
    assert all(ch.status in ("ok", "warn") for ch in checks), [ch.line() for ch in checks]


def test_openapi_documents_every_route_and_its_problems(api: tuple[TestClient, City]) -> None:
    client, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/v1/cities/{city}/checkpoints": ("get", {"200", "404", "422"}),
        "/v1/cities/{city}/checkpoints/{size}": ("get", {"200", "404"}),
        "/v1/cities/{city}/checkpoints/{size}/cosignatures": (
            "post",
            {"200", "201", "403", "404", "422"},
        ),
        "/v1/cities/{city}/proofs/consistency": ("get", {"200", "404", "422", "503"}),
        "/v1/cities/{city}/transactions/{tx_id}/receipt": ("get", {"200", "401", "403", "404"}),
    }
    for path, (method, codes) in expected.items():
        operation = paths[path][method]
        assert codes <= set(operation["responses"]), (path, operation["responses"].keys())
        assert operation["summary"]
