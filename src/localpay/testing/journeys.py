"""Steps of people's journeys through the pages, shared by the page tests.

The officials' side goes over the API (maker proposes, checker approves: the existing
two-person flow); the citizen's side is in the browser, as a person would do it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import httpx
import nacl.signing
from playwright.sync_api import Page, expect

from localpay.adapters.clock import now_ms
from localpay.domain import commands as c
from localpay.services.cities.ledgers import new_id
from localpay.services.cities.officials import OfficialSigner
from localpay.sim.demo import DEMO_PASSWORD
from localpay.testing.browser import Site


def staff(site: Site, city: str, username: str) -> httpx.Client:
    """An API client signed in as a member of the city's staff."""
    client = httpx.Client(base_url=site.base, timeout=30)
    r = client.post(
        "/v1/auth/login", json={"city": city, "username": username, "password": DEMO_PASSWORD}
    )
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client


def decided(site: Site, city: str, kind: str, params: dict[str, Any]) -> None:
    """One official action through maker-checker: proposed by the maker, approved by the
    checker, submitted to the chain."""
    maker, checker = staff(site, city, "maker"), staff(site, city, "checker")
    try:
        r = maker.post(
            f"/v1/cities/{city}/proposals",
            json={"kind": kind, "params": params},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        proposal = r.json()["id"]
        r = checker.post(
            f"/v1/cities/{city}/proposals/{proposal}/approvals",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "submitted", r.json()
    finally:
        maker.close()
        checker.close()


def credit(site: Site, city: str, wallet: str, program: str, amount: int) -> None:
    """Won received in trust minted into `program`, then credited to `wallet`."""
    decided(site, city, "mint", {"program": program, "amount": amount, "won_ref": "trust-web"})
    decided(
        site,
        city,
        "credit",
        {"program": program, "wallet": wallet, "amount": amount, "origin": "web-test"},
    )


def sign_up(page: Page, city: str) -> tuple[str, str]:
    """Open a wallet in the browser as a citizen would (the recovery code shown, one
    group typed back wrong then right); the recovery code and the new wallet's id."""
    page.goto(f"/c/{city}/wallet/signup")
    code_list = page.locator("#recovery-code li .g")
    expect(code_list).to_have_count(14)
    groups = code_list.all_inner_texts()
    page.get_by_role("button", name="적어 두었습니다").click()
    label = page.locator("#check-label").inner_text()
    found = re.search(r"\d+", label)
    assert found is not None, label
    field = page.get_by_label(label)
    field.fill("XXXX")
    page.get_by_role("button", name="확인", exact=True).click()
    expect(page.locator("#check-error")).to_be_visible()
    field.fill(groups[int(found.group()) - 1].lower())
    page.get_by_role("button", name="확인", exact=True).click()
    page.wait_for_url(f"**/c/{city}/wallet/")
    wallet = page.locator("#wallet-id").inner_text()
    return " ".join(groups), wallet


def as_officials(site: Site, city: str, *commands: c.Command) -> None:
    """Official commands signed by the officials' keys the test site's server holds
    (set-up, not a journey: the journeys go through maker-checker, `decided`)."""
    ledgers = site.container.ledgers
    genesis = ledgers.sequencer(city).state.genesis
    assert genesis is not None
    signer = OfficialSigner(ledgers.keys, city, dict(genesis.approvals))
    for command in commands:
        assert ledgers.execute(city, signer.sign(command)).ok, command


def hypermarket(site: Site, city: str, merchant: str, name: str, name_en: str) -> None:
    """A hypermarket in 구래동, registered, approved and named: every demo program denies
    its category (sim/gimpo.EXCLUDED_CATEGORIES) and its revenue is above the cap."""
    key = bytes(nacl.signing.SigningKey.generate().verify_key).hex()
    as_officials(
        site,
        city,
        c.RegisterMerchant(
            id=new_id(),
            city=city,
            merchant=merchant,
            keys=[key],
            category="large_mart",
            area="gurae-dong",
            annual_revenue=50_000_000_000,
            registration_hash=hashlib.sha256(f"brn:{merchant}".encode()).hexdigest(),
        ),
        c.ApproveMerchant(id=new_id(), city=city, merchant=merchant),
    )
    site.container.directory.name_shop(city, merchant, name, name_en, now_ms())
