"""The card counter services over HTTP on a live server, on both stores: issue (the number
once, never in an idempotency record), list, top-up, balance, block, PIN, terminals, and
a purchase through the server's own card service on a registered terminal. Access: the
city's officials write, its staff read, a merchant's owner manages its own terminals,
another city's people get 404."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localpay.bootstrap import Container
from localpay.services.payments.card import numbers
from localpay.services.payments.card.messages import CardRequest
from localpay.testing.servers import (
    DEMO_PASSWORD,
    World,
    live_container,
    problem_code,
    seeded_store,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Container]]:
    folder: Path = tmp_path_factory.mktemp("cards")
    url = seeded_store(request, folder)
    with live_container(url, folder / "keys") as (base, container, _):
        found = World(base, folder / "keys")
        found.sign_in_everyone()
        yield found, container


def post(world: World, who: str, path: str, body: Any = None, key: str | None = None,
         city: str = "gimpo") -> httpx.Response:  # fmt: skip
    with world.client(world.tokens[city][who]) as client:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return client.post(f"/v1/cities/gimpo{path}", json=body or {}, headers=headers)


def get(world: World, who: str, path: str, city: str = "gimpo") -> httpx.Response:
    with world.client(world.tokens[city][who]) as client:
        return client.get(f"/v1/cities/gimpo{path}")


def test_issue_top_up_and_pay_at_a_terminal(world: tuple[World, Container]) -> None:
    site, container = world
    issued = post(site, "city_maker", "/cards", {"pin": "2468"}, key="issue-1")
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    number, wallet, card = body["number"], body["view"]["wallet"], body["view"]["card"]
    assert numbers.luhn_valid(number) and number.startswith("941")
    assert body["view"]["bound"] and body["view"]["pin"]
    replay = post(site, "city_maker", "/cards", {"pin": "2468"}, key="issue-1")
    assert replay.status_code == 409 and problem_code(replay) == "idempotency_secret_shown_once"
    listed = get(site, "city_auditor", f"/wallets/{wallet}/cards")
    assert listed.status_code == 200 and number not in listed.text
    assert [c["last4"] for c in listed.json()] == [number[-4:]]
    topped = post(site, "city_maker", f"/wallets/{wallet}/top-ups",
                  {"program": "general", "amount": 30_000})  # fmt: skip
    assert topped.status_code == 201, topped.text
    assert topped.json()["balance"]["balance"] >= 30_000
    terminal = post(site, "merchant_owner", "/terminals", {"terminal": "POS00001",
                                                           "merchant": "m-00000"})  # fmt: skip
    assert terminal.status_code == 201, terminal.text
    answer = container.cards.answer(
        CardRequest(mti="0200", stan="000001", terminal="POS00001", rrn="000000000001",
                    pan=number, processing="000000", amount=10_000, currency="410")
    )  # fmt: skip
    assert answer.code == "00", answer
    balance = get(site, "city_checker", f"/wallets/{wallet}/card-balance").json()
    assert balance["balance"] == answer.balance
    blocked = post(site, "city_checker", f"/cards/{card}/block")
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    again = post(site, "city_checker", f"/cards/{card}/block")  # said twice: the same answer
    assert again.status_code == 200 and again.json()["status"] == "blocked"
    lost = post(site, "city_checker", f"/cards/{card}/lost")  # but not another status
    assert lost.status_code == 409 and problem_code(lost) == "card_not_active"


def test_bad_input_is_a_problem_that_names_it(world: tuple[World, Container]) -> None:
    site, _ = world
    pin = post(site, "city_maker", "/cards", {"pin": "12"})
    assert pin.status_code == 422 and problem_code(pin) == "bad_pin"
    amount = post(site, "city_maker", "/wallets/w-0000001/top-ups",
                  {"program": "general", "amount": 0})  # fmt: skip
    assert amount.status_code == 422 and problem_code(amount) == "validation_failed"
    phone = post(site, "city_maker", "/wallets/w-0000001/top-ups",
                 {"program": "general", "amount": 1000})  # fmt: skip
    assert phone.status_code == 422 and problem_code(phone) == "bad_card_input"
    terminal = post(site, "city_maker", "/terminals", {"terminal": "short", "merchant": "m-00000"})
    assert terminal.status_code == 422 and problem_code(terminal) == "bad_card_input"


def test_access(world: tuple[World, Container]) -> None:
    site, _ = world
    made = post(site, "city_maker", "/cards")
    wallet = made.json()["view"]["wallet"]
    for who in ("city_auditor", "merchant_owner", "merchant_cashier", "citizen"):
        assert post(site, who, "/cards").status_code == 404, who
    assert get(site, "merchant_cashier", f"/wallets/{wallet}/cards").status_code == 404
    foreign = get(site, "city_maker", f"/wallets/{wallet}/cards", city="yangju")
    assert foreign.status_code == 404
    other = post(site, "merchant_owner", "/terminals", {"terminal": "POS00009",
                                                        "merchant": "m-00001"})  # fmt: skip
    assert other.status_code == 404
    with site.client() as anonymous:
        assert anonymous.get(f"/v1/cities/gimpo/wallets/{wallet}/cards").status_code == 401


def cli(site: World, *args: str) -> subprocess.CompletedProcess[str]:
    """`localpay card|terminal ...` in its own process, signing in as maker."""
    return subprocess.run(
        [sys.executable, "-m", "localpay.entrypoints.cli", *args, "--city", "gimpo",
         "--username", "maker", "--url", site.base, "--password-stdin"],
        check=False, input=DEMO_PASSWORD + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_cli(world: tuple[World, Container]) -> None:
    site, _ = world
    issued = cli(site, "card", "issue")
    assert issued.returncode == 0, issued.stderr
    number = re.search(r"\(shown once\): ((?:\d{4} ?){4})", issued.stdout)
    assert number is not None and numbers.luhn_valid(number.group(1).replace(" ", ""))
    wallet = re.search(r"wallet (wc-[0-9a-f]{16})", issued.stdout)
    card = re.search(r"id ([0-9a-f]{64})", issued.stdout)
    assert wallet is not None and card is not None
    topped = cli(site, "card", "topup", wallet.group(1), "20000")
    assert topped.returncode == 0 and "paid 20,000 won" in topped.stdout, topped.stderr
    shown = cli(site, "card", "show", wallet.group(1))
    assert shown.returncode == 0 and "active" in shown.stdout and "general" in shown.stdout
    assert number.group(1).replace(" ", "") not in shown.stdout
    assert cli(site, "card", "lost", card.group(1)).returncode == 0
    again = cli(site, "card", "block", card.group(1))
    assert again.returncode == 1 and "card_not_active: the card is already lost" in again.stderr
    assert cli(site, "terminal", "add", "CLI00001", "m-00001").returncode == 0
    listed = cli(site, "terminal", "list", "--merchant", "m-00001")
    assert "CLI00001  m-00001" in listed.stdout
    bad = cli(site, "terminal", "add", "x", "m-00001")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert cli(site, "terminal", "remove", "CLI00001").returncode == 0
