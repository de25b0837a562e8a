"""Buying local currency in a real browser, with the simulated bank in its own process:
the demo wallet buys 100,000 won and sees the 10,000 won discount and the live budget,
pays into the virtual account on the bank's own page, sees the balance rise, and cancels
the purchase on the purchases page (a pending payout appears). Axe-clean, in senior mode
too, and without horizontal scroll on a 360 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

import localpay
from localpay.adapters.keystore import KeyStore
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.bank import SALE, SALE_BUDGET, SaleSite, sale_site
from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
)
from localpay.testing.servers import seed

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
NARROW = {"width": 360, "height": 740}
#: What sticks out of the window, to say in a failure.
WIDER_THAN_WINDOW = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((e) => `${e.tagName}.${e.className}#${e.id}: ${(e.textContent || "").slice(0, 30)}`)"""
AXE = Path(localpay.__file__).parent / "entrypoints/web/static/vendor/axe-core/axe.min.js"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaleSite]:
    root = tmp_path_factory.mktemp("buy")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with sale_site(url, keys, root) as found:
        yield found


def _phone(browser: Browser, shop: SaleSite, senior: bool = False, **size: Any) -> Iterator[Page]:
    context = browser.new_context(
        viewport=size or PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        base_url=shop.base,
    )
    context.set_default_timeout(20_000)
    site = Site(shop.base, shop.container, shop.keys)
    context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    if senior:
        context.add_cookies([{"name": "localpay_senior", "value": "1", "url": shop.base}])
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/")
    seed_hex = bytes(derived_key(bytes(KeyStore(shop.keys).load(CITY, DEMO_SECRET)), WALLET)).hex()
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed_hex],
    )
    yield page
    context.close()


@pytest.fixture
def citizen(browser: Browser, shop: SaleSite) -> Iterator[Page]:
    yield from _phone(browser, shop)


def _sale_holding(shop: SaleSite) -> int:
    wallet = shop.container.ledgers.sequencer(CITY).state.wallets[WALLET]
    return sum(lot.amount for lot in wallet.lots if lot.program == SALE)


def _won(amount: int) -> str:
    return f"{amount:,}원"


def test_buy_pay_at_the_bank_see_the_balance_rise_then_cancel(
    citizen: Page, browser: Browser, shop: SaleSite
) -> None:
    page = citizen
    page.goto(f"/c/{CITY}/wallet/")
    page.get_by_role("link", name="지역화폐 구매").click()
    page.wait_for_url(re.compile(r"/wallet/buy$"))
    expect(page.locator("#sale-title")).to_contain_text("김포페이 일반")  # the general sale
    page.get_by_role("link", name=re.compile("김포사랑상품권")).click()  # the test's own sale
    page.wait_for_url(re.compile(rf"/wallet/buy\?program={SALE}$"))
    page.wait_for_load_state()
    budget = page.locator("#budget-left")
    expect(budget).to_contain_text(_won(SALE_BUDGET))
    expect(page.locator("#room-month")).to_contain_text("700,000원")
    # A second tab watches the budget live while the first one orders.
    watcher = page.context.new_page()
    watcher.goto(f"/c/{CITY}/wallet/buy?program={SALE}")
    expect(watcher.locator("#budget-left")).to_contain_text(_won(SALE_BUDGET))
    page.get_by_role("button", name="100,000원").click()
    expect(page.locator("#discount")).to_have_text("10,000원")
    expect(page.locator("#you-get")).to_have_text("110,000원")
    assert serious_violations(page) == []
    before = _sale_holding(shop)
    page.get_by_role("button", name="100,000원 구매").click()
    page.wait_for_url(re.compile(r"/wallet/buy/orders/[0-9a-f]{32}$"))
    expect(watcher.locator("#budget-left")).to_contain_text(_won(SALE_BUDGET - 10_000))
    account = page.locator("#va-number").inner_text().strip()
    expect(page.locator("#va-amount")).to_have_text("100,000원")
    expect(page.locator("#buy-status")).to_have_attribute("data-status", "ordered")
    assert serious_violations(page) == []
    # The citizen's banking app: the simulated bank's own page, another origin.
    bank = page.context.new_page()
    bank.goto(f"{shop.bank}/")
    bank.get_by_label(re.compile("가상계좌")).fill(account)
    bank.get_by_label(re.compile("금액")).fill("100000")
    bank.get_by_role("button", name=re.compile("이체하기")).click()
    expect(bank.locator("[data-answer]")).to_have_attribute("data-answer", "done")
    bank.add_script_tag(content=AXE.read_text())  # the bank's page is of another origin
    assert serious_violations(bank) == []
    status = page.locator("#buy-status")
    expect(status).to_have_attribute("data-status", "paid", timeout=30_000)
    expect(page.locator("#charged")).to_have_text("충전 완료")
    assert _sale_holding(shop) == before + 110_000
    # Cancel it on the purchases page: unused, within 7 days.
    page.goto(f"/c/{CITY}/wallet/purchases")
    purchase = page.locator("article.purchase[data-status='paid']").first
    purchase.get_by_role("button", name="이 구매 취소").click()
    expect(page.locator("#payout-list")).to_contain_text("100,000원")
    expect(page.locator("article.purchase").first).to_have_attribute("data-status", "cancelled")
    assert _sale_holding(shop) == before
    assert serious_violations(page) == []


def test_a_refused_order_names_the_room_and_moves_nothing(citizen: Page, shop: SaleSite) -> None:
    page = citizen
    page.goto(f"/c/{CITY}/wallet/buy?program={SALE}&amount=800000")
    refusal = page.locator("#preview [data-refusal]")
    expect(refusal).to_have_attribute("data-refusal", "purchase_limit_exceeded")
    expect(refusal).to_contain_text("700,000원")
    expect(page.locator("[data-buy-confirm]")).to_have_count(0)
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["buy?program=sale&amount=300000", "purchases"])
def test_senior_mode_on_a_narrow_phone(browser: Browser, shop: SaleSite, path: str) -> None:
    for page in _phone(browser, shop, senior=True, **NARROW):
        page.goto(f"/c/{CITY}/wallet/{path}")
        page.wait_for_load_state()
        assert horizontal_overflow(page) == 0
        assert serious_violations(page) == []
        if path.startswith("buy"):
            expect(page.get_by_role("heading", level=1)).to_have_text("충전하기")
            expect(page.get_by_role("button", name="구매하기")).to_be_visible()
            expect(page.locator("#room-discount")).to_have_count(0)  # fewer things in senior mode


def test_a_wider_zoom_keeps_the_buy_page_in_the_window(browser: Browser, shop: SaleSite) -> None:
    """360 px at 200 % zoom: a 180 CSS px wide window."""
    for page in _phone(browser, shop, width=180, height=400):
        page.goto(f"/c/{CITY}/wallet/buy?program={SALE}&amount=100000")
        page.wait_for_load_state()
        assert horizontal_overflow(page) == 0, page.evaluate(WIDER_THAN_WINDOW)


def test_buying_with_the_keyboard_only(citizen: Page, shop: SaleSite) -> None:
    page = citizen
    page.goto(f"/c/{CITY}/wallet/buy?program={SALE}")
    page.wait_for_load_state()
    page.locator("#amount").focus()
    page.keyboard.type("50000")
    expect(page.locator("#discount")).to_have_text("5,000원")
    page.keyboard.press("Tab")  # the help text is not focusable: the first quick pick
    page.keyboard.press("Enter")  # 100,000원
    expect(page.locator("#discount")).to_have_text("10,000원")
    buy = page.get_by_role("button", name="100,000원 구매")
    for _ in range(8):  # on through the other picks and the preview's submit to "buy"
        if page.evaluate("() => document.activeElement?.hasAttribute('data-buy-confirm')"):
            break
        page.keyboard.press("Tab")
    expect(buy).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/wallet/buy/orders/[0-9a-f]{32}$"))
    expect(page.locator("#va-amount")).to_have_text("100,000원")
