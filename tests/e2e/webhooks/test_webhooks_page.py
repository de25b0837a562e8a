"""The shop owner's webhooks page in a real browser (phone window, Korean first) against a
live server whose delivery worker sends to a real, verifying merchant server: add an
endpoint and see its secret once, a payment arrives and shows in the log, send it again,
a failing endpoint is said so in plain words; keyboard only, axe-clean, no sideways
scroll, senior mode with fewer functions; a cashier and another shop's owner get 404."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from localpay.services.webhooks.worker import Worker
from localpay.testing.browser import (
    PHONE,
    Site,
    chromium,
    horizontal_overflow,
    serious_violations,
    sign_in,
)
from localpay.testing.servers import live_container, pay_over_http, seed
from localpay.testing.webhooks import Receiver, merchant_server

pytestmark = pytest.mark.slow

HOME = "/c/gimpo/counter/m-00000/webhooks"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with merchant_server() as found:
        yield found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("webhooks-page")
    url, keys = f"sqlite:///{root / 'site.db'}", root / "keys"
    seed(url, keys)
    with live_container(url, keys) as (base, container, _):
        worker = Worker(container.webhooks.deliverer, poll_s=0.2).start()
        try:
            yield Site(base, container, keys)
        finally:
            worker.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    found = context.new_page()
    yield found
    context.close()


def _clean(page: Page) -> None:
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0


def _reload_until(page: Page, rows: Locator) -> None:
    deadline = time.monotonic() + 10
    page.reload()
    while rows.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        page.reload()


def test_add_an_endpoint_receive_a_payment_and_send_it_again(
    page: Page, site: Site, receiver: Receiver
) -> None:
    sign_in(page, "gimpo", "owner")
    page.goto("/c/gimpo/counter/webhooks")  # sends the owner to their own shop's page
    assert page.url.endswith(HOME)
    expect(page.get_by_role("heading", name="웹훅", exact=True)).to_be_visible()
    _clean(page)

    # Keyboard only: type the address, tab to the button, press Enter.
    page.get_by_label("가게 서버 주소 (URL)").focus()
    page.keyboard.type(receiver.url)
    page.keyboard.press("Enter")
    secret = page.locator("#secret-value")
    expect(secret).to_contain_text("whsec_")
    receiver.secret = secret.inner_text().strip()
    expect(page.get_by_text("이번 한 번만 보여 드려요", exact=False)).to_be_visible()
    _clean(page)
    page.reload()  # shown once: not on the next visit
    expect(page.locator("#secret-value")).to_have_count(0)

    paid = pay_over_http(site.base, site.keys, 8_000)["id"]
    (got,) = receiver.wait(1)
    assert got.id == f"evt_{paid}" and got.payload["data"]["amount"] == 8_000
    rows = page.locator("#deliveries li")
    _reload_until(page, rows)  # the log row is written right after the endpoint's answer
    expect(rows.first).to_contain_text("전달됨")
    expect(rows.first).to_contain_text(f"evt_{paid}")
    expect(page.locator("[id^=status-]").first).to_have_text("정상")
    _clean(page)

    rows.first.get_by_role("button", name="다시 보내기").click()
    expect(page.locator("#webhook-notice")).to_contain_text("보냈어요")
    assert [r.id for r in receiver.delivered()] == [f"evt_{paid}", f"evt_{paid}"]


def test_a_failing_endpoint_in_plain_words_and_senior_mode(page: Page, receiver: Receiver) -> None:
    sign_in(page, "gimpo", "owner")
    page.goto(HOME)
    if page.locator("#endpoints li").count() == 0:  # this test run alone
        page.get_by_label("가게 서버 주소 (URL)").fill(receiver.url)
        page.get_by_role("button", name="주소 추가하기").click()
        receiver.secret = page.locator("#secret-value").inner_text().strip()
    receiver.fail_first = receiver.requests + 1
    page.get_by_role("button", name="시험 알림 보내기").first.click()
    expect(page.locator("#webhook-notice")).to_contain_text("500")
    expect(page.locator("#webhook-notice")).to_contain_text("전달하지 못했어요")

    page.get_by_role("button", name="큰 글씨로 보기").click()
    page.goto(HOME)
    expect(page.get_by_role("button", name="시험 알림 보내기").first).to_be_visible()
    expect(page.locator("#replay-from")).to_be_hidden()  # fewer functions in senior mode
    expect(page.get_by_text("보낼 알림 종류", exact=False)).to_be_hidden()
    _clean(page)


def test_bad_address_is_said_plainly_and_adds_nothing(page: Page) -> None:
    sign_in(page, "gimpo", "owner")
    page.goto(HOME)
    before = page.locator("#endpoints li").count()
    page.get_by_label("가게 서버 주소 (URL)").fill("http://shop.example/hooks")
    page.get_by_role("button", name="주소 추가하기").click()
    expect(page.locator("#webhook-error")).to_contain_text("https://")
    assert page.locator("#endpoints li").count() == before
    _clean(page)


@pytest.mark.parametrize(("city", "who"), [("gimpo", "cashier"), ("yangju", "owner")])
def test_others_get_the_404_page(page: Page, city: str, who: str) -> None:
    sign_in(page, city, who)
    answer = page.goto(HOME)
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="없는 화면입니다.")).to_be_visible()


@pytest.mark.parametrize("width", [360, 180], ids=["360px", "360px-at-200%"])
@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_fits_the_phone_in_both_languages_and_modes(
    page: Page, receiver: Receiver, width: int, senior: bool, lang: str
) -> None:
    sign_in(page, "gimpo", "owner")
    page.goto(HOME)
    if page.locator("#endpoints li").count() == 0:  # this test run alone: one endpoint
        page.get_by_label("가게 서버 주소 (URL)").fill(receiver.url)
        page.get_by_role("button", name="주소 추가하기").click()
    if lang == "en":
        page.get_by_role("button", name="English").click()
    if senior:
        page.get_by_role(
            "button", name="Large text (senior mode)" if lang == "en" else "큰 글씨로 보기"
        ).click()
    page.set_viewport_size({"width": width, "height": 740})
    page.goto(HOME)
    heading = "Webhooks" if lang == "en" else "웹훅"
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
