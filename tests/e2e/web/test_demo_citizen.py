"""The demo citizen `make run` prints: the Python copy of the recovery code is the
browser's own, and the wallet restores from its number and code, with its money."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from localpay.adapters.keystore import KeyStore
from localpay.services.cities.inspect import wallet_view
from localpay.services.wallets.recovery import recovery_code
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import Site

pytestmark = pytest.mark.slow


def test_python_and_browser_make_the_same_recovery_codes(page: Page) -> None:
    page.goto("/c/gimpo/wallet/restore")
    seeds = [
        bytes(32),
        bytes(range(32)),
        b"\xff" * 32,
        *(secrets.token_bytes(32) for _ in range(20)),
    ]
    browser_codes = page.evaluate(
        """async (seeds) => {
          const keys = await import("/static/js/wallet/keys.js");
          return seeds.map((hex) => keys.recoveryCode(keys.hexToBytes(hex)));
        }""",
        [seed.hex() for seed in seeds],
    )
    assert browser_codes == [recovery_code(seed) for seed in seeds]


def test_the_demo_citizen_restores_by_number_and_code(page: Page, site: Site) -> None:
    secret = bytes(KeyStore(site.keys).load("gimpo", DEMO_SECRET))
    code = recovery_code(bytes(derived_key(secret, "w-0000001")))
    balance = wallet_view(site.container.store, "gimpo", "w-0000001").balance
    page.goto("/c/gimpo/wallet/restore")
    page.get_by_label("복구 코드").fill(code)
    page.get_by_text("지갑 번호를 따로 받았어요").click()
    page.get_by_label("지갑 번호").fill("w-0000001")
    page.get_by_role("button", name="되찾고 로그인").click()
    page.wait_for_url("**/c/gimpo/wallet/")
    expect(page.locator("main")).to_contain_text(f"{balance:,}원")
