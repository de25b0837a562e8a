"""The customer-presented code in a real browser: the wallet makes and shows a one-time
code (its barcode and QR, drawn by the server from digits POSTed in a body, decode with
zxing-cpp to the digits the page shows), the counter page captures it, and the wallet's
page turns to "used" with the amount; a second capture is refused in plain words."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore
from localpay.domain import commands as c
from localpay.domain.limits import CODE_MS_MAX
from localpay.ledger.signatures import sign_command
from localpay.services.cities.inspect import merchant_view, wallet_view
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
BAKERY = "m-00000"


@pytest.fixture
def phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone whose browser holds w-0000001's key (as keys.js keeps it) and a session."""
    context = browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        base_url=site.base,
    )
    context.set_default_timeout(15_000)
    context.add_cookies([citizen_cookie(site, CITY, WALLET)])  # type: ignore[list-item]
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/code")
    seed = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET))
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed.hex()],
    )
    yield page
    context.close()


@pytest.fixture
def counter(browser: Browser, site: Site) -> Iterator[Page]:
    """The bakery's cashier at the counter (a wide screen)."""
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, locale="ko-KR", base_url=site.base
    )
    context.set_default_timeout(15_000)
    context.add_cookies([staff_cookie(site, CITY, "cashier")])  # type: ignore[list-item]
    page = context.new_page()
    yield page
    context.close()


def _decoded(page: Page, selector: str) -> list[str]:
    """What zxing-cpp reads in the image as the browser drew it (once it is decoded: a
    screenshot taken before would be blank)."""
    image_element = page.locator(selector)
    image_element.evaluate("img => img.decode()")
    image = Image.open(io.BytesIO(image_element.screenshot()))
    return [found.text for found in zxingcpp.read_barcodes(image)]


def _show_code(page: Page, cap: str) -> str:
    page.wait_for_load_state()
    page.locator("#cap").fill(cap)
    page.locator("#make-code").click()
    digits = page.locator("#code-digits")
    expect(digits).to_be_visible()
    return re.sub(r"\s", "", digits.inner_text())


def _capture(page: Page, amount: str, digits: str) -> None:
    page.goto(f"/c/{CITY}/counter/code")
    page.locator("#claim-amount-input").fill(amount)
    page.locator("#claim-amount-input").press("Enter")  # to the code field, not a submit
    expect(page.locator("#claim-code")).to_be_focused()
    # A USB scanner types the digits and Enter into the focused field.
    page.keyboard.type(digits)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_the_wallet_shows_a_code_the_counter_captures_it_once(
    phone: Page, counter: Page, site: Site
) -> None:
    before = wallet_view(site.container.store, CITY, WALLET).balance
    shop_before = merchant_view(site.container.store, CITY, BAKERY).balance
    digits = _show_code(phone, "20,000")
    assert re.fullmatch(r"[0-9]{20}", digits)
    # The barcode (Code 128) and the QR decode to the very digits shown.
    assert _decoded(phone, "#code-bars") == [digits]
    assert _decoded(phone, "#code-qr") == [digits]
    expect(phone.locator("#code-state [data-state=open]")).to_be_visible()
    assert serious_violations(phone) == []
    assert horizontal_overflow(phone) == 0

    _capture(counter, "12000", digits)
    expect(counter.locator("#claim-approved")).to_contain_text("12,000원")
    expect(counter.locator("#claim-approved")).to_contain_text("승인")
    assert serious_violations(counter) == []
    counter.goto(f"/c/{CITY}/counter/{BAKERY}/")  # the day's list shows it as a payment
    expect(counter.locator("#rows")).to_contain_text("12,000원")

    used = phone.locator("#code-state [data-state=used]")
    expect(used).to_be_visible(timeout=10_000)
    expect(used).to_contain_text("사용 완료")
    expect(used).to_contain_text("12,000원")
    expect(phone.locator("#code-bars")).to_have_count(0)  # the code left the screen
    assert wallet_view(site.container.store, CITY, WALLET).balance == before - 12_000
    assert merchant_view(site.container.store, CITY, BAKERY).balance == shop_before + 12_000

    # The receipt of the capture, with its proof checked in the page, as any payment's.
    used.get_by_role("link", name="영수증 보기").click()
    phone.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    expect(phone.locator(".receipt")).to_contain_text("12,000원")
    expect(phone.locator("#verify-status")).to_have_attribute("data-verified", "ok")

    # The same digits again: refused in plain words, nothing paid.
    _capture(counter, "1000", digits)
    refusal = counter.locator("#claim-error")
    expect(refusal).to_have_attribute("data-refusal", "code_used")
    expect(refusal).to_contain_text("이미 사용")
    assert wallet_view(site.container.store, CITY, WALLET).balance == before - 12_000


def test_over_the_cap_is_refused_at_the_counter_in_plain_words(
    phone: Page, counter: Page, site: Site
) -> None:
    digits = _show_code(phone, "5000")
    before = wallet_view(site.container.store, CITY, WALLET).balance
    _capture(counter, "5001", digits)
    expect(counter.locator("#claim-error")).to_have_attribute("data-refusal", "code_cap_exceeded")
    assert wallet_view(site.container.store, CITY, WALLET).balance == before
    # Typed by hand in groups, as the wallet shows them, at the cap: approved.
    _capture(counter, "5000", " ".join(digits[i : i + 4] for i in range(0, 20, 4)))
    expect(counter.locator("#claim-approved")).to_contain_text("5,000원")


def test_digits_that_are_no_code_are_refused_before_anything_is_sent(counter: Page) -> None:
    _capture(counter, "1000", "1234")
    expect(counter.locator("#claim-error")).to_be_visible()
    expect(counter.locator("#claim-approved")).to_have_count(0)


def test_senior_mode_shows_one_large_barcode(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        base_url=site.base,
    )
    context.add_cookies(
        [
            citizen_cookie(site, CITY, WALLET),  # type: ignore[list-item]
            {"name": "localpay_senior", "value": "1", "url": site.base},
        ]
    )
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/code")
    seed = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET))
    page.evaluate(
        """async ([city, wallet, seed]) => {
          const keys = await import("/static/js/wallet/keys.js");
          await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
        }""",
        [CITY, WALLET, seed.hex()],
    )
    expect(page.locator("#cap")).to_be_hidden()  # no limit to set: the whole balance
    page.get_by_role("button", name="결제 코드 보기").click()
    expect(page.locator("#code-bars")).to_be_visible()
    expect(page.locator("#code-qr")).to_be_hidden()
    digits = re.sub(r"\s", "", page.locator("#code-digits").inner_text())
    assert _decoded(page, "#code-bars") == [digits]
    assert horizontal_overflow(page) == 0
    context.close()


def test_the_drawn_barcode_of_a_code_beginning_99_decodes_to_all_20_digits(phone: Page) -> None:
    # python-barcode's own Code128 drops a leading "99": the page draws its own symbols.
    digits = "99315827940199530552"
    phone.wait_for_load_state()
    phone.evaluate(
        """async (digits) => {
          const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
          const answer = await fetch(location.pathname + "/render", {
            method: "POST",
            headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
            body: new URLSearchParams({digits}),
          });
          document.getElementById("code-images").innerHTML = await answer.text();
          document.getElementById("code-box").hidden = false;
        }""",
        digits,
    )
    assert _decoded(phone, "#code-bars") == [digits]
    assert _decoded(phone, "#code-qr") == [digits]
    expect(phone.locator("#code-digits")).to_have_text("9931 5827 9401 9953 0552")


def test_another_wallet_s_code_and_the_counter_page_are_404_to_a_citizen(
    phone: Page, site: Site
) -> None:
    digits = "".join(str(b % 10) for b in os.urandom(20))
    code = hashlib.sha256(f"localpay/code/v1\n{CITY}\n{digits}".encode()).hexdigest()
    secret = bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET))
    # Another wallet of the city that presents codes itself (not a card-only one).
    other = next(
        w
        for w in (f"w-{n:07d}" for n in range(2, 13))
        if not wallet_view(site.container.store, CITY, w).card
    )
    present = c.PresentCode(id=os.urandom(16).hex(), city=CITY, wallet=other, code=code, cap=1)
    answer = phone.request.post(
        f"/v1/cities/{CITY}/presented-codes",
        data=sign_command(present, [derived_key(secret, other)]),
        headers={"Idempotency-Key": os.urandom(16).hex(), "Content-Type": "application/json"},
    )
    assert answer.status == 201, answer.text()
    assert phone.request.get(f"/c/{CITY}/wallet/code/{code}").status == 404
    assert phone.request.get(f"/c/{CITY}/wallet/code/{'0' * 64}").status == 404
    assert phone.request.get(f"/c/{CITY}/counter/code").status == 404
    # Rendering is the wallet's own too: another city's wallet page refuses it.
    assert phone.request.get("/c/yangju/wallet/code", max_redirects=0).status in (303, 404)


def test_an_expired_code_leaves_the_screen_with_a_button_for_a_new_one(
    phone: Page, site: Site
) -> None:
    first = _show_code(phone, "3000")
    # The pages read the time from the container's clock (the ledger has its own): past
    # the code's 3 minutes for them, the wallet's page hears "expired" at its next poll.
    site.container.clock = lambda: now_ms() + CODE_MS_MAX + 1_000
    try:
        expired = phone.locator("#code-state [data-state=expired]")
        expect(expired).to_be_visible(timeout=10_000)
        expect(expired).to_contain_text("만료")
        expect(phone.locator("#code-bars")).to_have_count(0)
    finally:
        site.container.clock = now_ms
    phone.get_by_role("button", name="새 코드 만들기").click()
    expect(phone.locator("#code-state [data-state=open]")).to_be_visible()
    second = re.sub(r"\s", "", phone.locator("#code-digits").inner_text())
    assert re.fullmatch(r"[0-9]{20}", second) and second != first
    assert _decoded(phone, "#code-bars") == [second]


@pytest.mark.parametrize("senior", ["0", "1"], ids=["normal", "senior"])
def test_no_horizontal_scroll_at_200_percent_zoom(
    browser: Browser, site: Site, senior: str
) -> None:
    context = browser.new_context(
        viewport={"width": 180, "height": 740}, locale="ko-KR", base_url=site.base
    )
    context.add_cookies(
        [
            citizen_cookie(site, CITY, WALLET),  # type: ignore[list-item]
            {"name": "localpay_senior", "value": senior, "url": site.base},
        ]
    )
    page = context.new_page()
    try:
        page.goto(f"/c/{CITY}/wallet/code")
        seed = bytes(derived_key(bytes(KeyStore(site.keys).load(CITY, DEMO_SECRET)), WALLET))
        page.evaluate(
            """async ([city, wallet, seed]) => {
              const keys = await import("/static/js/wallet/keys.js");
              await keys.saveWallet(city, wallet, keys.hexToBytes(seed));
            }""",
            [CITY, WALLET, seed.hex()],
        )
        assert horizontal_overflow(page) == 0
        page.locator("#make-code").click()
        expect(page.locator("#code-digits")).to_be_visible()
        assert horizontal_overflow(page) == 0
    finally:
        context.close()
    counter = browser.new_context(
        viewport={"width": 180, "height": 740}, locale="ko-KR", base_url=site.base
    )
    counter.add_cookies(
        [
            staff_cookie(site, CITY, "cashier"),  # type: ignore[list-item]
            {"name": "localpay_senior", "value": senior, "url": site.base},
        ]
    )
    try:
        screen = counter.new_page()
        screen.goto(f"/c/{CITY}/counter/code")
        assert horizontal_overflow(screen) == 0
    finally:
        counter.close()


def test_the_counter_form_sent_twice_is_one_capture(phone: Page, counter: Page, site: Site) -> None:
    digits = _show_code(phone, "4000")
    before = wallet_view(site.container.store, CITY, WALLET).balance
    counter.goto(f"/c/{CITY}/counter/code")
    form = {
        "csrf": counter.locator("#claim-form input[name=csrf]").input_value(),
        "idempotency_key": counter.locator("#claim-form input[name=idempotency_key]").input_value(),
        "amount": "4000",
        "code": digits,
    }
    first = counter.request.post(f"/c/{CITY}/counter/code", form=form, max_redirects=0)
    second = counter.request.post(f"/c/{CITY}/counter/code", form=form, max_redirects=0)
    assert first.status == second.status == 303
    assert first.headers["location"] == second.headers["location"]  # the same capture
    assert wallet_view(site.container.store, CITY, WALLET).balance == before - 4_000
