"""The merchant registry over real HTTP: apply, follow by token, maker-checker approval,
the new owner's log-in, eligibility for the shop's own staff only, the fraud bar."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.servers import live_container, seed

pytestmark = pytest.mark.slow
CITY = "gimpo"
OWNER_PASSWORD = "owner-password-2026"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    root: Path = tmp_path_factory.mktemp("registry-api")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys) as (found, _container, _):
        yield found, url, keys


@pytest.fixture
def base(world: tuple[str, str, Path]) -> str:
    return world[0]


def _login(base: str, city: str, username: str, password: str = DEMO_PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post(
        "/v1/auth/login", json={"city": city, "username": username, "password": password}
    )
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


def _post(client: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


APPLICATION = {
    "brn": "124-81-00998",
    "name": "구래동 행복 베이커리",
    "name_en": "Gurae-dong Haengbok Bakery",
    "industry": "56191",
    "area": "gurae-dong",
    "annual_revenue": 250_000_000,
    "bank": "088",
    "account_number": "110-123-456789",
    "account_holder": "김하나",
    "owner_username": "haengbok",
    "owner_password": OWNER_PASSWORD,
}


def test_the_whole_registry_over_http(base: str) -> None:
    public = httpx.Client(base_url=base, timeout=30)
    bad = _post(
        public, f"/v1/cities/{CITY}/merchant-applications", {**APPLICATION, "brn": "124-81-00997"}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["field"] == "brn" and "check digit" in bad.json()["detail"]

    sent = _post(public, f"/v1/cities/{CITY}/merchant-applications", APPLICATION)
    assert sent.status_code == 201, sent.text
    assert sent.headers["cache-control"] == "no-store"  # the token is never kept at rest
    token, merchant = sent.json()["token"], sent.json()["merchant"]
    status = public.get(f"/v1/cities/{CITY}/merchant-applications/status/{token}").json()
    assert status["status"] == "pending" and status["account"] == "신한 ***-***-**6789"
    assert status["brn"] is None

    assert public.get(f"/v1/cities/{CITY}/merchant-applications").status_code == 401
    stranger = _login(base, "yangju", "maker")
    assert stranger.get(f"/v1/cities/{CITY}/merchant-applications").status_code == 404
    auditor = _login(base, CITY, "auditor")
    [listed] = auditor.get(f"/v1/cities/{CITY}/merchant-applications?status=pending").json()
    assert listed["brn"] == "124-81-00998" and listed["account"].endswith("6789")
    assert "110-123-456789" not in str(listed)

    maker, checker = _login(base, CITY, "maker"), _login(base, CITY, "checker")
    made = _post(maker, f"/v1/cities/{CITY}/merchant-applications/{listed['id']}/approval")
    assert made.status_code == 201, made.text
    assert [p["kind"] for p in made.json()] == ["register_merchant", "approve_merchant"]
    assert _post(maker, f"/v1/cities/{CITY}/registry/merchants/{merchant}/check").status_code == 403
    done = _post(checker, f"/v1/cities/{CITY}/registry/merchants/{merchant}/check")
    assert [p["receipt"]["code"] for p in done.json()] == ["ok", "ok"]
    status = public.get(f"/v1/cities/{CITY}/merchant-applications/status/{token}").json()
    assert status["status"] == "approved"
    assert {e["program"]: e["eligible"] for e in status["eligibility"]}["general"] is True

    owner = _login(base, CITY, "haengbok", OWNER_PASSWORD)
    mine = owner.get(f"/v1/cities/{CITY}/merchants/{merchant}/eligibility")
    assert mine.status_code == 200 and mine.json()
    other_owner = _login(base, CITY, "owner")  # the staff of m-00000
    assert other_owner.get(f"/v1/cities/{CITY}/merchants/{merchant}/eligibility").status_code == 403

    path = f"/v1/cities/{CITY}/registry/merchants/{merchant}"
    assert _post(maker, f"{path}/suspension", {"reason": "no"}).json()["field"] == "reason"
    assert _post(maker, f"{path}/suspension", {"reason": "cash-out-fraud"}).status_code == 201
    _post(checker, f"{path}/check")
    barred = _post(maker, f"{path}/reinstatement")
    assert barred.status_code == 409 and barred.json()["code"] == "merchant_barred"
    assert barred.json()["barred_until_ms"] > 0


def _cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "localpay.entrypoints.cli", "merchant", *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


def test_the_cli(world: tuple[str, str, Path]) -> None:
    base, url, keys = world
    good = _cli("check-brn", "1248100998")
    assert good.returncode == 0 and "124-81-00998: well-formed" in good.stdout
    bad = _cli("check-brn", "124-81-00997")
    assert bad.returncode != 0 and "should be 8, not 7" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

    public = httpx.Client(base_url=base, timeout=30)
    form = {**APPLICATION, "brn": "120-81-47521", "owner_username": "cli-shop"}
    merchant = _post(public, f"/v1/cities/{CITY}/merchant-applications", form).json()["merchant"]
    env = {"LOCALPAY_DB": url, "LOCALPAY_KEYS": str(keys)}
    listed = _cli("applications", "--city", CITY, env=env)
    assert listed.returncode == 0 and merchant in listed.stdout
    assert "47521" not in listed.stdout and "456789" not in listed.stdout.replace("**6789", "")

    maker, checker = _login(base, CITY, "maker"), _login(base, CITY, "checker")
    [application] = [
        a["id"]
        for a in maker.get(f"/v1/cities/{CITY}/merchant-applications").json()
        if a["merchant"] == merchant
    ]
    _post(maker, f"/v1/cities/{CITY}/merchant-applications/{application}/approval")
    _post(checker, f"/v1/cities/{CITY}/registry/merchants/{merchant}/check")
    who = ("--city", CITY, "--username", "maker", "--url", base, "--password-stdin")
    wrong = _cli("suspend", merchant, "--reason", "whim", *who, stdin=DEMO_PASSWORD + "\n")
    assert wrong.returncode != 0 and "--reason is one of" in wrong.stderr
    done = _cli("suspend", merchant, "--reason", "owner-request", *who, stdin=DEMO_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "waits for a checker" in done.stdout
    _post(checker, f"/v1/cities/{CITY}/registry/merchants/{merchant}/check")
    again = _cli("reinstate", merchant, *who, stdin=DEMO_PASSWORD + "\n")
    assert again.returncode == 0, again.stderr
