"""The city console's services end to end on both stores, over a real socket: where a
draft program version applies (counts by category and area), the CEL checker's answers
(a bad expression gets its message, doubles are refused), and a program with a sale and
a condition proposed by one official, approved by another, on the chain, and obeyed by
a payment."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nacl.signing
import pytest

from localpay.domain import commands as c
from localpay.domain.policy import default_sale
from localpay.ledger import conditions
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import new_id
from localpay.testing.browser import Site
from localpay.testing.builders import policy as open_policy
from localpay.testing.journeys import as_officials
from localpay.testing.servers import World, live_container, seeded_store

CITY = "gimpo"
AREA = "test-dong"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("console")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, container, _):
        found = Site(base, container, folder / "keys")
        _academies(found)
        yield found


def _academies(site: Site) -> None:
    """Three academies in one area: two approved (one with a large revenue), one only
    registered (not active, so in no preview)."""
    made: list[c.Command] = []
    for merchant, revenue, approve in (
        ("m-acad1", 100_000_000, True),
        ("m-acad2", 900_000_000, True),
        ("m-acad3", 100_000_000, False),
    ):
        key = public_key_hex(nacl.signing.SigningKey.generate())
        made.append(
            c.RegisterMerchant(
                id=new_id(),
                city=CITY,
                merchant=merchant,
                keys=[key],
                category="academy",
                area=AREA,
                annual_revenue=revenue,
                registration_hash=hashlib.sha256(merchant.encode()).hexdigest(),
            )
        )
        if approve:
            made.append(c.ApproveMerchant(id=new_id(), city=CITY, merchant=merchant))
    as_officials(site, CITY, *made)


def client(site: Site, username: str, city: str = CITY) -> httpx.Client:
    token = World(site.base, site.keys).login(city, username)
    return httpx.Client(
        base_url=site.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


def policy_json(**rules: Any) -> dict[str, Any]:
    return dict(msgspec.to_builtins(open_policy("Academy voucher", **rules)))


def test_preview_counts_active_merchants_by_category_and_area(site: Site) -> None:
    state = site.container.ledgers.sequencer(CITY).state
    active = [m for m in state.merchants.values() if m.status == "active"]
    other_academies = sum(1 for m in active if m.category == "academy" and m.area != AREA)
    path = f"/v1/cities/{CITY}/programs/preview"
    with client(site, "auditor") as http:
        r = post(http, path, {"policy": policy_json(allowed_categories=["academy"], areas=[AREA])})
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["active"] == len(active)
        assert found["eligible"] == 2  # the registered-only academy is not active
        assert found["by_category"] == {"academy": 2} and found["by_area"] == {AREA: 2}
        assert sum(found["refused"].values()) == len(active) - 2
        r = post(http, path, {"policy": policy_json(allowed_categories=["academy"])})
        assert r.json()["by_category"] == {"academy": 2 + other_academies}
        assert r.json()["by_area"][AREA] == 2
        capped = policy_json(areas=[AREA], revenue_cap=500_000_000)
        r = post(http, path, {"policy": capped})
        assert r.json()["eligible"] == 1
        assert r.json()["refused"] == {"area_denied": len(active) - 2, "revenue_cap_exceeded": 1}


def test_preview_refuses_an_inconsistent_policy_in_the_checkers_words(site: Site) -> None:
    with client(site, "maker") as http:
        bad = policy_json(allowed_categories=["academy"], denied_categories=["academy"])
        r = post(http, f"/v1/cities/{CITY}/programs/preview", {"policy": bad})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "invalid_policy"
        assert r.json()["detail"] == "a category is both allowed and denied"
        r = post(http, f"/v1/cities/{CITY}/programs/preview", {"policy": {"name": "x"}})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"


def test_condition_check_gives_the_checkers_message_and_refuses_doubles(site: Site) -> None:
    path = f"/v1/cities/{CITY}/programs/condition-check"
    with client(site, "maker") as http:
        r = post(http, path, {"expression": "amount >"})
        assert r.status_code == 200 and r.json()["ok"] is False
        assert "Syntax error" in r.json()["message"]
        r = post(http, path, {"expression": "amount > 1.5"})
        assert r.json() == {
            "ok": False,
            "message": "conditions use whole numbers only (no decimals or double())",
            "engine": conditions.ENGINE,
            "verdict": None,
        }
        r = post(http, path, {"expression": "amount + 1"})
        assert r.json()["ok"] is False and "true or false" in r.json()["message"]
        r = post(http, path, {"expression": "nobody > 1"})
        assert r.json()["ok"] is False and "nobody" in r.json()["message"]
        lunch = "weekday <= 5 && hour >= 11 && hour < 14"
        r = post(http, path, {"expression": lunch, "sample": {"weekday": 3, "hour": 12}})
        assert r.json()["ok"] is True and r.json()["verdict"] is True
        r = post(http, path, {"expression": lunch, "sample": {"weekday": 6, "hour": 12}})
        assert r.json()["verdict"] is False
        r = post(http, path, {"expression": lunch, "sample": {"hour": "12"}})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"
        r = post(http, path, {"expression": lunch, "sample": {"hour": 12.5}})
        assert r.status_code == 422


def test_console_checks_are_for_the_citys_staff_only(site: Site) -> None:
    path = f"/v1/cities/{CITY}/programs/condition-check"
    r = httpx.post(
        site.base + path,
        json={"expression": "true"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 401
    with client(site, "maker", "yangju") as other:
        assert post(other, path, {"expression": "true"}).status_code == 404
    with client(site, "cashier") as shop:
        assert post(shop, path, {"expression": "true"}).status_code == 403


def _open_wallet(site: Site) -> tuple[str, nacl.signing.SigningKey]:
    key = nacl.signing.SigningKey.generate()
    wallet = f"w-c{uuid.uuid4().hex[:8]}"
    opening = c.OpenWallet(
        id=new_id(), city=CITY, wallet=wallet, keys=[public_key_hex(key)], custodial=False
    )
    assert site.container.ledgers.execute(CITY, sign_command(opening, [key])).ok
    return wallet, key


def _pay(site: Site, wallet: str, key: nacl.signing.SigningKey, amount: int) -> str:
    pay = c.Pay(
        id=new_id(), city=CITY, wallet=wallet, merchant="m-00000", amount=amount, evidence=""
    )
    return site.container.ledgers.execute(CITY, sign_command(pay, [key])).code


def _decided(site: Site, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Proposed by the maker, approved by the checker (a different official), over HTTP."""
    with client(site, "maker") as maker, client(site, "checker") as checker:
        r = post(maker, f"/v1/cities/{CITY}/proposals", {"kind": kind, "params": params})
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        proposal = r.json()["id"]
        r = post(maker, f"/v1/cities/{CITY}/proposals/{proposal}/approvals", {})
        assert r.status_code == 403, r.text  # the maker never checks their own proposal
        assert r.json()["detail"] == "a different official must check a proposal"
        r = post(checker, f"/v1/cities/{CITY}/proposals/{proposal}/approvals", {})
        assert r.status_code == 201 and r.json()["status"] == "submitted", r.text
        return dict(r.json()["receipt"])


def test_a_program_with_a_sale_and_a_condition_is_approved_and_obeyed(site: Site) -> None:
    rules = open_policy(
        "Small payments",
        sale=default_sale(),
        condition="amount <= 5000",
        engine=conditions.ENGINE,
    )
    receipt = _decided(
        site, "define_program", {"program": "small", "policy": msgspec.to_builtins(rules)}
    )
    assert receipt["code"] == "ok"
    program = site.container.ledgers.sequencer(CITY).state.programs["small"]
    assert program.versions[-1] == rules  # on the chain as proposed, the engine with it
    assert (
        _decided(site, "mint", {"program": "small", "amount": 50_000, "won_ref": "trust-c1"})[
            "code"
        ]
        == "ok"
    )
    wallet, key = _open_wallet(site)
    credit = {"program": "small", "wallet": wallet, "amount": 20_000, "origin": "console-test"}
    assert _decided(site, "credit", credit)["code"] == "ok"
    assert _pay(site, wallet, key, 6_000) == "condition_not_met"  # the condition says no
    assert _pay(site, wallet, key, 5_000) == "ok"
    assert site.container.ledgers.sequencer(CITY).state.wallets[wallet].lots[0].amount == 15_000


def _cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", site.container.url]
    return subprocess.run(
        [*command, *args], check=False, capture_output=True, text=True, timeout=120
    )


def test_cli_checks_conditions_and_previews_a_policy_file(site: Site, tmp_path: Path) -> None:
    bad = _cli(site, "program", "check-condition", "amount > 1.5")
    assert bad.returncode == 1 and bad.stdout == ""
    assert "whole numbers only" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    good = _cli(site, "program", "check-condition", "hour >= 11")
    assert good.returncode == 0 and conditions.ENGINE in good.stdout
    draft = tmp_path / "policy.json"
    draft.write_bytes(
        msgspec.json.encode(open_policy("x", allowed_categories=["academy"], areas=[AREA]))
    )
    shown = _cli(site, "program", "preview", "--city", CITY, "--file", str(draft))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["by_area"] == {AREA: 2}
    draft.write_text('{"name": "x"}')
    refused = _cli(site, "program", "preview", "--city", CITY, "--file", str(draft))
    assert refused.returncode == 2 and "is not a policy" in refused.stderr
    listed = _cli(site, "program", "show", "--city", CITY, "general")
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["program"] == "general"
    missing = _cli(site, "program", "show", "--city", CITY, "nothing-here")
    assert missing.returncode == 1 and "no program" in missing.stderr
