"""Screenshots of the main pages for docs/screenshots/: `make screenshots`.

Seeds a demo store (a larger one than the tests', so charts and lists have something to
show), serves it on a free port, and photographs each page in Debian's Chromium at a
phone's size (and the explorer and the console at a desk's), in Korean, and the wallet in
senior mode. A page that only shows something once a person has acted (a scanned code, a
charge for an amount, a new endpoint) is photographed after the script acts as they would,
through the page itself.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LOCALPAY_MASTER_KEY", f"v1:{secrets.token_hex(32)}")

import httpx
from playwright.sync_api import Page, expect

from localpay.adapters.bank.mockbank import MockBankClient, trust_account_id
from localpay.adapters.keystore import KeyStore
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import (
    PHONE,
    Site,
    chromium,
    citizen_cookie,
    staff_cookie,
)
from localpay.testing.servers import live_container, pay_over_http, seed

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESK = {"width": 1280, "height": 900}
CITY = "gimpo"
WALLET = "w-0000001"
SHOP = "m-00000"  # the demo owner's and cashier's shop
#: The scan page with the vendored decoder (zxing-wasm), as its tests use it: the same
#: picture on every machine, whether or not its Chromium has a BarcodeDetector.
SCAN = f"/c/{CITY}/wallet/scan?decoder=ponyfill"
#: Where the shots' files go while the script runs (a scanned QR's PNG).
WORK = Path(tempfile.gettempdir())

Who = Callable[[Site], dict[str, Any]] | None
#: What the script does on the page before the shot, as a person would.
Act = Callable[[Page, Site], None] | None


def _citizen(site: Site) -> dict[str, Any]:
    return citizen_cookie(site, CITY, WALLET)


def _owner(site: Site) -> dict[str, Any]:
    return staff_cookie(site, CITY, "owner")


def _cashier(site: Site) -> dict[str, Any]:
    return staff_cookie(site, CITY, "cashier")


def _maker(site: Site) -> dict[str, Any]:
    return staff_cookie(site, CITY, "maker")


# -- what a person does before the shot -----------------------------------------------------


def _hold_key(page: Page, site: Site) -> None:
    """This browser keeps the demo wallet's key, as the wallet app does after sign-up."""
    seed_hex = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET)).hex()
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed_hex],
    )
    page.reload()
    page.wait_for_load_state("networkidle")


def _scan_static_qr(page: Page, site: Site) -> None:
    """A photo of shop m-00001's printed QR through the photo fallback, then 12,000 won typed:
    the shop verified and the "usable here" preview."""
    _hold_key(page, site)
    png = WORK / f"localpay-shot-qr-{uuid.uuid4().hex}.png"
    png.write_bytes(site.container.merchant_qrs.image(CITY, "m-00001", "png"))
    try:
        page.locator("#scan-file").set_input_files(str(png))
        expect(page.locator("#verified-badge")).to_be_visible(timeout=20_000)
    finally:
        png.unlink()
    page.locator("#scan-amount-input").fill("12000")
    expect(page.locator("#scan-confirm-box")).to_be_visible(timeout=10_000)


def _show_code(page: Page, site: Site) -> None:
    """The citizen makes a one-time code for at most 30,000 won (senior mode: the balance)."""
    _hold_key(page, site)
    if page.locator("#cap").is_visible():  # senior mode sets no cap: the whole balance
        page.locator("#cap").fill("30000")
    page.locator("#make-code").click()
    expect(page.locator("#code-digits")).to_be_visible(timeout=15_000)
    page.locator("#code-bars").evaluate("img => img.decode()")
    expect(page.locator("#code-state [data-state=open]")).to_be_visible(timeout=10_000)


def _charge(page: Page, site: Site) -> None:
    """The cashier types 12,000 won and shows the dynamic QR."""
    page.locator("#charge-input").fill("12000")
    page.locator("#charge-make").click()
    expect(page.locator("#charge-qr svg")).to_be_visible(timeout=10_000)


def _add_endpoint(page: Page, site: Site) -> None:
    """The owner adds the shop server's address; the signing secret is shown once."""
    page.locator("#endpoint-url").fill("https://shop.example/localpay/webhooks")
    page.locator("#add-endpoint").click()
    expect(page.locator("#webhook-secret")).to_be_visible(timeout=10_000)


def _card_wallet(page: Page, site: Site) -> None:
    """An official issues a card with a new card-only wallet and tops it up with 50,000."""
    page.locator("#issue-wallet").fill("")
    page.locator("form[action$='cards/issue'] button[type=submit]").click()
    expect(page.locator("#card-number")).to_be_visible(timeout=15_000)
    page.locator("a[href*='/console/cards/wallet/']").click()
    page.locator("#top-up-amount").fill("50000")
    page.locator("#top-up button[type=submit]").click()
    expect(page.locator("#said")).to_be_visible(timeout=15_000)


def _add_terminal(page: Page, site: Site) -> None:
    page.locator("#terminal-id").fill("GP000001")
    page.locator("#terminal-merchant").fill(SHOP)
    page.locator("#terminal-id").press("Enter")
    expect(page.locator("#terminal-GP000001")).to_be_visible(timeout=10_000)


# -- pages that need something made first ----------------------------------------------------


def _pay_out(page: Page, site: Site) -> None:
    page.locator("#payout-amount").fill("10000")
    page.locator("#payout-now").click()
    expect(page.locator("#payout-done")).to_be_visible()


def settle_a_day(site: Site) -> None:
    """A day of settlement at the site's mock-bank, so the console has something to show:
    an instant payout, won arriving that nobody told the ledger about, the day's camt.053
    taken and reconciled (one exception), and the reserves proved before and after."""
    settlement, now = site.container.settlement, site.container.clock()
    settlement.prove(CITY, now)
    settlement.instant(CITY, SHOP, 9_000, str(uuid.uuid4()), now)
    url = site.container.payout_bank_url
    assert url is not None
    bank = MockBankClient(url)
    try:
        bank.credit(trust_account_id(CITY), 777, "UNKNOWN-DEPOSIT-1", "홍길동")
        bank.advance(1)
    finally:
        bank.close()
    settlement.poll(CITY, now)
    settlement.prove(CITY, now)


def checkout_intent(site: Site) -> str:
    """An online mall's order of 32,000 won, made over the API with the shop's API key as
    the mall's server makes it; its approval page's path."""
    api_key = site.container.identity.issue_api_key(CITY, SHOP, "mall")[1]
    answer = httpx.post(
        f"{site.base}/v1/cities/{CITY}/checkout/intents",
        json={
            "amount": 32_000,
            "order_id": "A-20261201-0042",
            "return_url": "https://mall.example/orders/back",
            "description": "김포쌀 10kg",
        },
        headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    answer.raise_for_status()
    return f"/c/{CITY}/wallet/checkout/{answer.json()['id']}"


@dataclass(frozen=True)
class Shot:
    name: str
    path: str  # "{checkout}" is replaced by the approval page of a fresh intent
    who: Who = None
    senior: bool = False
    window: dict[str, int] | None = None  # PHONE unless given
    act: Act = None


SHOTS: list[Shot] = [
    Shot("start", "/c/gimpo/"),
    Shot("wallet-home", "/c/gimpo/wallet/", _citizen),
    Shot("wallet-home-senior", "/c/gimpo/wallet/", _citizen, senior=True),
    Shot("wallet-pay", "/c/gimpo/wallet/pay", _citizen),
    Shot("wallet-pay-preview", "/c/gimpo/wallet/pay/m-00001?amount=12000", _citizen),
    Shot("wallet-history", "/c/gimpo/wallet/history", _citizen),
    Shot("wallet-gift", "/c/gimpo/wallet/gift", _citizen),
    Shot("wallet-signup", "/c/gimpo/wallet/signup"),
    Shot("wallet-buy", "/c/gimpo/wallet/buy?program=general", _citizen),
    Shot("wallet-buy-senior", "/c/gimpo/wallet/buy?program=general", _citizen, senior=True),
    Shot("wallet-purchases", "/c/gimpo/wallet/purchases", _citizen),
    Shot("wallet-credits", "/c/gimpo/wallet/credits", _citizen),
    Shot("wallet-notices", "/c/gimpo/wallet/notices", _citizen),
    # Payment channels (issue 13).
    Shot("wallet-scan-start", "/c/gimpo/wallet/scan", _citizen),
    Shot("wallet-scan", SCAN, _citizen, act=_scan_static_qr),
    Shot("wallet-scan-senior", SCAN, _citizen, senior=True, act=_scan_static_qr),
    Shot("wallet-code", "/c/gimpo/wallet/code", _citizen, act=_show_code),
    Shot("wallet-checkout", "{checkout}", _citizen),
    Shot("wallet-checkout-computer", "{checkout}", None, window=DESK),
    Shot("merchant-apply", "/c/gimpo/merchants/apply"),
    Shot("console", "/c/gimpo/console/", _maker, window=DESK),
    Shot("console-programs", "/c/gimpo/console/programs", _maker, window=DESK),
    Shot("console-program-new", "/c/gimpo/console/programs/new", _maker, window=DESK),
    Shot("console-approvals", "/c/gimpo/console/approvals", _maker, window=DESK),
    Shot("console-batches", "/c/gimpo/console/batches", _maker, window=DESK),
    Shot("console-merchants", "/c/gimpo/console/merchants", _maker, window=DESK),
    Shot("console-waiting", "/c/gimpo/console/waiting", _maker, window=DESK),
    Shot("console-cards", "/c/gimpo/console/cards", _maker, window=DESK),
    Shot("console-cards-wallet", "/c/gimpo/console/cards", _maker, window=DESK, act=_card_wallet),
    Shot("console-terminals", "/c/gimpo/console/terminals", _maker, window=DESK, act=_add_terminal),
    Shot("console-payouts", "/c/gimpo/console/payouts", _maker, window=DESK),
    Shot("console-reconciliation", "/c/gimpo/console/reconciliation", _maker, window=DESK),
    Shot("console-reserves", "/c/gimpo/console/reserves", _maker, window=DESK),
    Shot("counter", "/c/gimpo/counter/", _owner),
    Shot("counter-payouts", "/c/gimpo/counter/payouts", _owner, act=_pay_out),
    Shot("counter-qr", "/c/gimpo/counter/m-00000/qr", _cashier),
    Shot("counter-charge", "/c/gimpo/counter/charge", _cashier, act=_charge),
    Shot("counter-code", "/c/gimpo/counter/code", _cashier),
    Shot("counter-webhooks", "/c/gimpo/counter/m-00000/webhooks", _owner, act=_add_endpoint),
    Shot("explorer", "/c/gimpo/explorer/", window=DESK),
    Shot("explorer-supply", "/c/gimpo/explorer/supply", window=DESK),
    Shot("explorer-payments", "/c/gimpo/explorer/payments", window=DESK),
    Shot("explorer-receipt", "/c/gimpo/explorer/receipt"),
    Shot("explorer-reserves", "/c/gimpo/explorer/reserves", window=DESK),
    Shot("staff-sign-in", "/c/gimpo/login"),
]


def take(browser: Any, site: Site, shot: Shot, path: str) -> None:
    """One shot in a fresh browser context; raises when the page is not a 200 or the
    script's acting on it fails (so an error page is never saved as a picture)."""
    base = site.base
    context = browser.new_context(base_url=base, viewport=shot.window or PHONE, locale="ko-KR")
    try:
        cookies = [{"name": "localpay_senior", "value": "1" if shot.senior else "0", "url": base}]
        if shot.who is not None:
            cookies.append(shot.who(site))
        context.add_cookies(cookies)
        page = context.new_page()
        answer = page.goto(path)
        page.wait_for_load_state("networkidle")
        if answer is None or answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status if answer else 'no answer'}")
        if shot.act is not None:
            shot.act(page, site)
            page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / f"{shot.name}.png"), full_page=True)
    finally:
        context.close()


def main(only: list[str]) -> int:
    """Every shot (or those named on the command line); 1 if any failed (the others are
    still taken)."""
    OUT.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        url, keys = f"sqlite:///{tmp}/shots.db", Path(tmp) / "keys"
        seed(url, keys, citizens=150, merchants=20, days=7)
        with live_container(url, keys, bank=True) as (base, container, _), chromium() as browser:
            site = Site(base, container, keys)
            for amount in (4_500, 12_000, 8_300):  # today's payments for the counter
                pay_over_http(base, keys, amount)
            checkout = checkout_intent(site)
            settle_a_day(site)
            for shot in SHOTS:
                if only and shot.name not in only:
                    continue
                path = shot.path.replace("{checkout}", checkout)
                try:
                    take(browser, site, shot, path)
                except Exception:  # report it, take the others, exit 1
                    failed += 1
                    print(f"FAILED {shot.name} ({path}):", file=sys.stderr)
                    traceback.print_exc()
                    continue
                print(f"docs/screenshots/{shot.name}.png  {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
