"""HTTP protocol behaviour on a live server: idempotency, problems, limits, sign-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nacl.signing
import pyotp
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_identity, open_store
from localpay.domain import commands as c
from localpay.entrypoints.api.middleware.ratelimit import Limits
from localpay.ledger.signatures import sign_command
from localpay.services.transparency.verifier import verify_receipt
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.servers import (
    FAST_HASHER,
    World,
    free_port,
    live_server,
    problem_code,
    seed,
    seeded_store,
)

STANDALONE = Path(__file__).resolve().parents[3] / "tools" / "verify_receipt.py"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("protocol")
    url = f"sqlite:///{folder}/world.db"
    seed(url, folder / "keys")
    with live_server(url, folder / "keys") as base:
        found = World(base, folder / "keys")
        found.url = url  # type: ignore[attr-defined]
        found.sign_in_everyone()
        yield found


def _key() -> str:
    return os.urandom(16).hex()


def _payment(world: World, amount: int = 100) -> bytes:
    secret = bytes(KeyStore(world.keys).load("gimpo", DEMO_SECRET))
    key = derived_key(secret, "w-0000001")
    pay = c.Pay(
        id=_key(), city="gimpo", wallet="w-0000001", merchant="m-00000", amount=amount, evidence=""
    )
    return sign_command(pay, [key])


def _post(client: httpx.Client, path: str, body: bytes, key: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(path, content=body, headers=headers)


def test_a_post_without_an_idempotency_key_is_refused(world: World) -> None:
    with world.client() as client:
        r = _post(client, "/v1/cities/gimpo/payments", _payment(world), None)
    assert r.status_code == 400 and problem_code(r) == "idempotency_key_missing"


def test_a_repeat_gets_the_original_answer_and_a_changed_body_is_refused(world: World) -> None:
    key, body = _key(), _payment(world)
    with world.client() as client:
        first = _post(client, "/v1/cities/gimpo/payments", body, key)
        again = _post(client, "/v1/cities/gimpo/payments", body, key)
        other = _post(client, "/v1/cities/gimpo/payments", _payment(world), key)
    assert (first.status_code, first.content) == (again.status_code, again.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422 and problem_code(other) == "idempotency_key_reused"


def test_concurrent_duplicates_have_one_effect_and_one_answer(world: World) -> None:
    key, body = _key(), _payment(world, 700)
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda _: _post(
                    httpx.Client(base_url=world.base), "/v1/cities/gimpo/payments", body, key
                ),
                range(20),
            )
        )
    assert len({(a.status_code, a.content) for a in answers}) == 1
    receipt = answers[0].json()
    with world.client(world.tokens["gimpo"]["city_auditor"]) as client:
        tx = client.get(f"/v1/cities/gimpo/transactions/{receipt['id']}")
    assert tx.status_code == 200 and tx.json()["seq"] == receipt["seq"]


def test_the_same_signed_payment_under_two_keys_is_applied_once(world: World) -> None:
    body = _payment(world)
    with world.client() as client:
        first = _post(client, "/v1/cities/gimpo/payments", body, _key())
        second = _post(client, "/v1/cities/gimpo/payments", body, _key())
    assert first.status_code == second.status_code == 201
    assert second.json()["duplicate"] is True and second.json()["seq"] == first.json()["seq"]


def test_a_new_api_key_is_never_replayed_with_its_secret(world: World) -> None:
    key = _key()
    with world.client(world.tokens["gimpo"]["merchant_owner"]) as client:
        path = "/v1/cities/gimpo/merchants/m-00000/api-keys"
        first = client.post(path, json={"label": "till"}, headers={"Idempotency-Key": key})
        assert first.status_code == 201 and first.json()["key"].startswith("lpk_")
        time.sleep(0.3)  # let the record reach the table too
        again = client.post(path, json={"label": "till"}, headers={"Idempotency-Key": key})
    assert again.status_code == 409 and problem_code(again) == "idempotency_secret_shown_once"
    assert "lpk_" not in again.text


def test_errors_are_problem_documents(world: World) -> None:
    with world.client() as client:
        unknown = client.get("/v1/nowhere")
        method = client.put("/v1/cities")
        huge = client.post(
            "/v1/cities/gimpo/payments", content=b"x" * 70_000, headers={"Idempotency-Key": _key()}
        )
        garbage = _post(client, "/v1/cities/gimpo/payments", b"\x80{", _key())
    for response, status, code in (
        (unknown, 404, "not_found"),
        (method, 405, "method_not_allowed"),
        (huge, 413, "body_too_large"),
        (garbage, 400, "malformed"),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == code and body["status"] == status
        assert body["type"] == f"urn:localpay:problem:{code}" and body["title"]


def test_cross_origin_requests_get_no_cors_grant(world: World) -> None:
    with world.client() as client:
        r = client.options(
            "/v1/cities",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in r.headers


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World) -> None:
    with world.client() as client:
        wrong = client.post(
            "/v1/auth/login",
            json={"city": "gimpo", "username": "maker", "password": "not-the-password"},
        )
        nobody = client.post(
            "/v1/auth/login",
            json={"city": "gimpo", "username": "ghost", "password": "not-the-password"},
        )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()


def test_totp_is_required_once_enrolled(world: World) -> None:
    store = open_store(world.url)  # type: ignore[attr-defined]
    identity = open_identity(store, lambda: int(time.time() * 1000), FAST_HASHER)
    user = identity.create_user("gimpo", "city_auditor", "totp-user", "long-enough-pass")
    secret = identity.enroll_totp(user.id)
    store.close()
    login = {"city": "gimpo", "username": "totp-user", "password": "long-enough-pass"}
    with world.client() as client:
        assert client.post("/v1/auth/login", json=login).status_code == 401
        code = pyotp.TOTP(secret).now()
        assert client.post("/v1/auth/login", json={**login, "totp": code}).status_code == 200
        replay = client.post("/v1/auth/login", json={**login, "totp": code})
        assert replay.status_code == 401 and problem_code(replay) == "unauthenticated"


def test_a_citizen_challenge_signs_in_once_and_only_with_the_wallet_key(world: World) -> None:
    with world.client() as client:
        challenge = client.post("/v1/cities/gimpo/wallets/w-0000001/challenges").json()
        stranger = nacl.signing.SigningKey.generate()
        forged = {
            "nonce": challenge["nonce"],
            "key": bytes(stranger.verify_key).hex(),
            "signature": stranger.sign(bytes.fromhex(challenge["sign"])).signature.hex(),
        }
        r = client.post("/v1/cities/gimpo/wallets/w-0000001/sessions", json=forged)
        assert r.status_code == 401
        again = client.post("/v1/cities/gimpo/wallets/w-0000001/sessions", json=forged)
        assert again.status_code == 401 and "used or expired" in again.text


def test_maker_checker_puts_both_officials_on_the_chain(world: World) -> None:
    tokens = world.tokens["gimpo"]
    params = {"merchant": "m-00001", "reason": "inspection"}
    with world.client(tokens["city_maker"]) as maker:
        made = maker.post(
            "/v1/cities/gimpo/proposals",
            headers={"Idempotency-Key": _key()},
            json={"kind": "suspend_merchant", "params": params},
        ).json()
        assert made["status"] == "pending"
        own = maker.post(
            f"/v1/cities/gimpo/proposals/{made['id']}/approvals",
            headers={"Idempotency-Key": _key()},
        )
        assert own.status_code == 403
    with world.client(tokens["city_checker"]) as checker:
        done = checker.post(
            f"/v1/cities/gimpo/proposals/{made['id']}/approvals",
            headers={"Idempotency-Key": _key()},
        ).json()
    assert done["status"] == "submitted" and done["receipt"]["code"] == "ok"
    with world.client(tokens["city_auditor"]) as auditor:
        tx = auditor.get(f"/v1/cities/gimpo/transactions/{done['receipt']['id']}").json()
    assert len(set(tx["signers"])) == 2


def test_a_cashier_refunds_but_cannot_pay_out(world: World) -> None:
    with world.client() as client:
        paid = _post(client, "/v1/cities/gimpo/payments", _payment(world, 500), _key()).json()
    with world.client(world.tokens["gimpo"]["merchant_cashier"]) as cashier:
        refund = cashier.post(
            "/v1/cities/gimpo/merchants/m-00000/refunds",
            json={"payment": paid["id"], "amount": 500},
            headers={"Idempotency-Key": _key()},
        )
        payout = cashier.post(
            "/v1/cities/gimpo/merchants/m-00000/payouts",
            json={"amount": 1},
            headers={"Idempotency-Key": _key()},
        )
    assert refund.status_code == 201 and refund.json()["code"] == "ok"
    assert payout.status_code == 403


def test_a_missing_merchant_key_is_an_error_not_a_new_key(world: World) -> None:
    """A server that lost a merchant's key file (a move without the key folder) must say
    so, not sign with a new key the chain does not know."""
    path = world.keys / "gimpo" / "merchant-m-00000.key"
    assert path.exists()
    aside = path.with_suffix(".aside")
    path.rename(aside)
    try:
        with world.client(world.tokens["gimpo"]["merchant_cashier"]) as cashier:
            refund = cashier.post(
                "/v1/cities/gimpo/merchants/m-00000/refunds",
                json={"payment": "0" * 32, "amount": 100},
                headers={"Idempotency-Key": _key()},
            )
        assert refund.status_code == 503 and problem_code(refund) == "unavailable"
        assert refund.headers["retry-after"] and not path.exists()
    finally:
        aside.rename(path)


def _verdicts(
    receipt: dict[str, object], tmp_path: Path, operator_key: str
) -> tuple[list[str], int]:
    """In-process checks that failed, and the standalone verifier's exit status, both
    with the operator's key pinned (learned from the city, not from the receipt)."""
    failed = [k.line() for k in verify_receipt(receipt, operator_key) if k.status == "FAIL"]
    path = tmp_path / f"{os.urandom(4).hex()}.json"
    path.write_text(json.dumps(receipt))
    tool = subprocess.run(
        [sys.executable, str(STANDALONE), str(path), "--operator-key", operator_key],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return failed, tool.returncode


def test_every_receipt_on_the_chain_carries_a_proof_that_verifies(
    world: World, tmp_path: Path
) -> None:
    with world.client() as client:
        paid = _post(client, "/v1/cities/gimpo/payments", _payment(world, 300), _key())
        too_much = _post(client, "/v1/cities/gimpo/payments", _payment(world, 10**9), _key())
    with world.client(world.tokens["gimpo"]["merchant_cashier"]) as cashier:
        refund = cashier.post(
            "/v1/cities/gimpo/merchants/m-00000/refunds",
            json={"payment": paid.json()["id"], "amount": 300},
            headers={"Idempotency-Key": _key()},
        )
    operator = bytes(KeyStore(world.keys).load("gimpo", "operator").verify_key).hex()
    rejected = too_much.json()["receipt"]  # recorded on the chain: provable too
    assert too_much.status_code == 422 and rejected["code"] != "ok"
    for response, receipt in ((paid, paid.json()), (refund, refund.json()), (too_much, rejected)):
        proof = receipt["proof"]
        assert proof["transaction"]["id"] == receipt["id"], response.text
        assert proof["leaf_index"] == receipt["seq"]
        assert proof["checkpoint_height"] == receipt["height"] and not proof["final"]
        assert _verdicts(proof, tmp_path, operator) == ([], 0)
    tampered = json.loads(json.dumps(paid.json()["proof"]))
    tampered["transaction"]["result"] = tampered["transaction"]["result"].replace("300", "301")
    failed, status = _verdicts(tampered, tmp_path, operator)
    assert failed and status != 0


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/limited.db"
    store = open_store(url)
    store.close()
    limits = Limits(per_ip_rate=1, per_ip_burst=3)
    with live_server(url, tmp_path / "keys", limits) as base, httpx.Client(base_url=base) as c:
        answers = [c.get("/v1/cities") for _ in range(6)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert problem_code(limited[0]) == "rate_limited"


ROLE_LIMITS = Limits(
    per_ip_rate=1000,
    per_ip_burst=1000,
    per_credential_rate=0.01,
    per_credential_burst=5,
    merchant_rate=0.01,
    merchant_burst=10,
    staff_rate=0.01,
    staff_burst=40,
)


def _pages_before_429(world: World, token: str, path: str, tries: int = 45) -> int:
    """GET `path` and its next pages with `token`; how many answered before the first 429."""
    url = f"{path}?limit=1"
    with world.client(token) as client:
        for n in range(tries):
            answer = client.get(url)
            if answer.status_code == 429:
                assert problem_code(answer) == "rate_limited"
                return n
            assert answer.status_code == 200, answer.text
            cursor = answer.json()["next"]
            url = f"{path}?limit=1&cursor={cursor}" if cursor else f"{path}?limit=1"
    return tries


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=["backend"])
def test_rate_limits_follow_the_role_an_auditor_pages_past_a_citizens_limit(
    backend: str, tmp_path: Path
) -> None:
    with live_server(backend, tmp_path / "keys", ROLE_LIMITS) as base:
        world = World(base, tmp_path / "keys")
        citizen = world.citizen("gimpo", "w-0000001")
        auditor = world.login("gimpo", "auditor")
        cashier = world.login("gimpo", "cashier")
        history = "/v1/cities/gimpo/wallets/w-0000001/transactions"
        assert _pages_before_429(world, citizen, history) == 5
        assert _pages_before_429(world, auditor, history) > 40  # its own, larger bucket
        sales = "/v1/cities/gimpo/merchants/m-00000/transactions"
        assert 10 <= _pages_before_429(world, cashier, sales) < 40
        # The citizen's bucket is its own: still empty, whatever the others did.
        with world.client(citizen) as client:
            assert client.get(history).status_code == 429


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A seeded two-city store on SQLite or a fresh PostgreSQL database; its URL."""
    return seeded_store(request, tmp_path)


def test_serve_takes_the_scrapers_metrics_token_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    serve = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", url, "serve"]
    weak = subprocess.run(
        serve,
        env={**os.environ, "LOCALPAY_METRICS_TOKEN": "short"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert weak.returncode == 1 and "LOCALPAY_METRICS_TOKEN must be at least 32" in weak.stderr
    assert not (tmp_path / "served.db").exists()  # refused before opening anything

    token, port = os.urandom(24).hex(), free_port()
    server = subprocess.Popen(
        [*serve, "--port", str(port)],
        env={**os.environ, "LOCALPAY_METRICS_TOKEN": token},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/metrics").status_code == 401
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token[1:]}x"})
        assert wrong.status_code == 401
        scraped = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "localpay_http_requests_total" in scraped.text
    finally:
        server.terminate()
        server.wait(30)
