"""Paying by QR in a real browser: the counter shows a dynamic QR for an amount; the
wallet's scan page is given that QR's PNG through the photo fallback (decoded in the page by
the vendored zxing-wasm), shows the shop verified, pays, and the receipt shows the money
left per program; the counter turns to paid. A shop's static QR is paid for a typed amount;
a forged one (signed with another key) is refused with no pay button; an expired one says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.adapters.keystore import KeyStore
from localpay.services.cities.inspect import wallet_view
from localpay.services.payments.qr import merchant_qr, render
from localpay.services.payments.qr.requests import REQUEST_VALID_MS
from localpay.sim.demo import DEMO_SECRET, derived_key
from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
    staff_cookie,
)

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
SHOP = "m-00000"  # the cashier's shop
SCAN = f"/c/{CITY}/wallet/scan?decoder=ponyfill"  # the vendored decoder, not a native one


def _context(browser: Browser, site: Site, senior: bool = False) -> Page:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    context.add_cookies(
        [{"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base}]
    )
    return context.new_page()


@pytest.fixture
def counter(browser: Browser, site: Site) -> Iterator[Page]:
    page = _context(browser, site)
    page.context.add_cookies([staff_cookie(site, CITY, "cashier")])  # type: ignore[list-item]
    yield page
    page.context.close()


def _phone(browser: Browser, site: Site, senior: bool = False) -> Page:
    page = _context(browser, site, senior)
    page.context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    page.goto(SCAN)
    seed = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET))
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed.hex()],
    )
    page.reload()
    page.wait_for_load_state()
    return page


@pytest.fixture
def citizen(browser: Browser, site: Site) -> Iterator[Page]:
    page = _phone(browser, site)
    yield page
    page.context.close()


def _money(site: Site) -> dict[str, int]:
    return dict(wallet_view(site.container.store, CITY, WALLET).by_program)


def _show_qr(counter: Page, amount: str) -> str:
    """The counter makes a dynamic QR for `amount`; its reference."""
    counter.goto(f"/c/{CITY}/counter/charge")
    counter.get_by_label("금액 (원)").fill(amount)
    counter.get_by_role("button", name="QR 코드 보이기").click()
    counter.wait_for_url(re.compile(r"/counter/charge/[A-Z2-7]{16}$"))
    expect(counter.locator("#charge-qr svg")).to_be_visible()
    return counter.url.rsplit("/", 1)[1]


def _upload(page: Page, png: bytes, tmp_path: Path) -> None:
    file = tmp_path / "qr.png"
    file.write_bytes(png)
    page.locator("#scan-file").set_input_files(str(file))


def _read(page: Page, png: bytes, tmp_path: Path) -> None:
    """Upload the photo and wait until htmx has settled the answer: htmx binds the amount
    field's triggers in its settle step (20 ms after the swap), and a fill before that
    would type into a field that asks for no preview (no person types that fast)."""
    _upload(page, png, tmp_path)
    expect(page.locator("#scanned-shop")).to_be_visible()
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def test_counter_qr_scanned_from_its_png_paid_and_the_counter_turns_paid(
    counter: Page, citizen: Page, site: Site, tmp_path: Path
) -> None:
    reference = _show_qr(counter, "15,000")
    expect(counter.locator("#charge-amount")).to_have_text("15,000원")
    expect(counter.locator("#countdown-left")).to_have_text(re.compile(r"^[23]:\d\d$"))
    assert serious_violations(counter) == []
    assert horizontal_overflow(counter) == 0
    png = counter.request.get(f"/c/{CITY}/counter/charge/{reference}/qr.png").body()
    before = _money(site)

    page = citizen
    _upload(page, png, tmp_path)
    shop = page.locator("#scanned-shop")
    expect(shop).to_be_visible()
    expect(page.locator("#verified-badge")).to_have_text(re.compile("인증된 가맹점"))
    expect(page.locator("#scan-amount")).to_have_text("15,000원")
    expect(page.locator("#scan-preview")).to_contain_text("여기서 쓸 수 있어요")
    assert serious_violations(page) == []
    assert _money(site) == before  # reading and the preview change nothing
    page.get_by_role("button", name=re.compile("15,000원 결제")).click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    receipt = page.locator(".receipt")
    expect(receipt).to_contain_text("15,000원")
    after = _money(site)
    assert sum(before.values()) - sum(after.values()) == 15_000
    # The balance per program, as the ledger has it now.
    for program, amount in after.items():
        expect(page.locator("ul.program-lines").last).to_contain_text(f"{amount:,}원")
        assert program
    # The counter sees it paid (it polls), and the QR is gone.
    expect(counter.locator("#charge-paid")).to_contain_text("결제 완료", timeout=10_000)
    expect(counter.locator("#charge-paid")).to_contain_text("15,000원")
    expect(counter.locator("#charge-qr")).to_be_hidden()

    # The same picture again: already paid, no pay button.
    page.goto(SCAN)
    page.wait_for_load_state()
    _upload(page, png, tmp_path)
    expect(page.locator("#scan-refused")).to_contain_text("이미 결제된 QR 코드입니다")
    expect(page.locator("[data-scan-pay]")).to_have_count(0)


def test_a_static_qr_is_paid_for_a_typed_amount(citizen: Page, site: Site, tmp_path: Path) -> None:
    png = site.container.merchant_qrs.image(CITY, SHOP, "png")
    before = _money(site)
    page = citizen
    _read(page, png, tmp_path)
    expect(page.locator("#verified-badge")).to_be_visible()
    page.get_by_label("금액 (원)").fill("3000")
    expect(page.locator("#scan-preview")).to_contain_text("여기서 쓸 수 있어요")
    page.get_by_role("button", name=re.compile("3,000원 결제")).click()
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    assert sum(before.values()) - sum(_money(site).values()) == 3_000


def test_a_forged_static_qr_is_refused_with_no_pay_button(
    citizen: Page, site: Site, tmp_path: Path
) -> None:
    facts = site.container.merchant_qrs.facts(CITY, SHOP)
    forged = merchant_qr.payload(facts, nacl.signing.SigningKey.generate())  # not the city's key
    before = _money(site)
    page = citizen
    _upload(page, render.png(forged), tmp_path)
    refused = page.locator("#scan-refused")
    expect(refused).to_contain_text("시에서 서명한 QR 코드가 아닙니다")
    expect(page.locator("#verified-badge")).to_have_count(0)
    expect(page.locator("[data-scan-pay]")).to_have_count(0)
    expect(page.get_by_label("금액 (원)")).to_have_count(0)
    assert serious_violations(page) == []
    assert _money(site) == before


def test_an_expired_dynamic_qr_is_refused(
    counter: Page, citizen: Page, site: Site, tmp_path: Path
) -> None:
    reference = _show_qr(counter, "2000")
    png = counter.request.get(f"/c/{CITY}/counter/charge/{reference}/qr.png").body()
    service = site.container.qr_requests
    real = service.clock
    service.clock = lambda: real() + REQUEST_VALID_MS
    try:
        _upload(citizen, png, tmp_path)
        expect(citizen.locator("#scan-refused")).to_contain_text("시간이 지났습니다")
        expect(citizen.locator("[data-scan-pay]")).to_have_count(0)
        expect(counter.locator("#charge-expired")).to_be_visible(timeout=10_000)
    finally:
        service.clock = real


def test_another_shops_request_is_a_404_and_senior_mode_has_one_big_button(
    browser: Browser, site: Site, counter: Page
) -> None:
    reference = _show_qr(counter, "1000")
    other = _context(browser, site)
    try:
        other.context.add_cookies([staff_cookie(site, "yangju", "cashier")])  # type: ignore[list-item]
        answer = other.goto(f"/c/yangju/counter/charge/{reference}")
        assert answer is not None and answer.status == 404
    finally:
        other.context.close()
    senior = _phone(browser, site, senior=True)
    try:
        senior.goto(f"/c/{CITY}/wallet/pay")
        expect(senior.locator("#scan-link")).to_have_text("QR 찍고 결제")
        senior.locator("#scan-link").click()
        senior.wait_for_url(re.compile(r"/wallet/scan$"))
        expect(senior.locator("h1")).to_have_text("QR 찍고 결제")
        assert serious_violations(senior) == []
        assert horizontal_overflow(senior) == 0
    finally:
        senior.context.close()


@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
@pytest.mark.parametrize("width", [360, 180], ids=["360px", "360px-at-200%"])
def test_both_screens_fit_a_small_phone_and_pass_axe(
    browser: Browser, site: Site, tmp_path: Path, width: int, senior: bool
) -> None:
    size = {"width": width, "height": 740}
    counter = _context(browser, site, senior)
    phone = _phone(browser, site, senior)
    try:
        counter.set_viewport_size(size)  # type: ignore[arg-type]
        counter.context.add_cookies([staff_cookie(site, CITY, "owner")])  # type: ignore[list-item]
        _show_qr(counter, "1,234,000")
        assert horizontal_overflow(counter) == 0
        assert serious_violations(counter) == []
        phone.set_viewport_size(size)  # type: ignore[arg-type]
        _read(phone, site.container.merchant_qrs.image(CITY, SHOP, "png"), tmp_path)
        phone.get_by_label("금액 (원)").fill("1200")
        expect(phone.locator("[data-scan-pay]")).to_be_visible()
        assert horizontal_overflow(phone) == 0
        assert serious_violations(phone) == []
    finally:
        counter.context.close()
        phone.context.close()


def _tab_to(page: Page, selector: str, most: int = 30) -> None:
    """Press Tab until `selector` has the focus (a keyboard user's way there)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def test_keyboard_only_counter_and_scan_to_pay(
    counter: Page, citizen: Page, site: Site, tmp_path: Path
) -> None:
    counter.goto(f"/c/{CITY}/counter/charge")
    _tab_to(counter, "#charge-input")
    counter.keyboard.type("2500")
    counter.keyboard.press("Enter")
    counter.wait_for_url(re.compile(r"/counter/charge/[A-Z2-7]{16}$"))
    reference = counter.url.rsplit("/", 1)[1]
    png = counter.request.get(f"/c/{CITY}/counter/charge/{reference}/qr.png").body()
    file = tmp_path / "qr.png"
    file.write_bytes(png)

    page = citizen
    # The photo's input takes the focus by Tab and shows it on its label; the native file
    # dialog it opens is the browser's (headless Chromium opens it only now and then), so
    # the file is given to the focused input directly.
    _tab_to(page, "#scan-file")
    outline = page.evaluate(
        "() => getComputedStyle(document.querySelector('label.file-button')).outlineStyle"
    )
    assert outline not in ("", "none")
    page.locator("#scan-file").set_input_files(str(file))
    expect(page.locator("#scan-result")).to_be_focused()  # the answer takes the focus
    _tab_to(page, "[data-scan-pay]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    expect(counter.locator("#charge-paid")).to_be_visible(timeout=10_000)
