"""The whole journey of the issue, in one browser run with two people on two phones: a
citizen signs up, receives a credit through the officials' two-person flow, sees it with
its expiry, pays a shop after the "usable here" preview and sees the receipt verified,
while the shop's counter screen shows the payment live; a refund from the counter
reaches the wallet; a payment the program forbids is refused in plain words and changes
nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.services.cities.inspect import wallet_view
from localpay.testing.browser import PHONE, Site, sign_in
from localpay.testing.journeys import credit, hypermarket, sign_up

pytestmark = pytest.mark.slow

CITY = "gimpo"
SHOP = "m-00000"
MART = "m-journeymart"


def _phone(browser: Browser, site: Site) -> Page:
    context = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def phones(browser: Browser, site: Site) -> Iterator[tuple[Page, Page]]:
    citizen, counter = _phone(browser, site), _phone(browser, site)
    yield citizen, counter
    citizen.context.close()
    counter.context.close()


def test_sign_up_credit_pay_live_refund_and_a_refusal(
    phones: tuple[Page, Page], site: Site
) -> None:
    citizen, counter = phones
    hypermarket(site, CITY, MART, "구래 대형마트", "Gurae Hypermarket")

    # The shop's owner opens the counter screen and leaves it open.
    sign_in(counter, CITY, "owner")
    expect(counter.locator("#live")).to_have_attribute("data-state", "open")
    counter.evaluate("() => { window.neverReloaded = true; }")

    # A citizen signs up on their phone; the city credits the general program to it.
    _, wallet = sign_up(citizen, CITY)
    expect(citizen.locator("#total-balance")).to_have_text("0원")
    credit(site, CITY, wallet, "general", 50_000)
    citizen.reload()
    expect(citizen.locator("#total-balance")).to_have_text("50,000원")
    general = citizen.locator('article[data-program="general"]')
    expires = wallet_view(site.container.store, CITY, wallet).lots[0].expires
    year, month, day = (int(part) for part in expires.split("-"))
    expect(general.locator(".expires")).to_contain_text(f"{year}년 {month}월 {day}일")

    # Pay the bakery after the preview; the receipt's proof is checked in the page.
    citizen.get_by_role("link", name="결제하기", exact=True).click()
    citizen.get_by_label("가게 이름 또는 코드").fill(SHOP)
    citizen.locator(f"a[href='/c/{CITY}/wallet/pay/{SHOP}']").click()
    citizen.wait_for_load_state()
    citizen.get_by_label("금액 (원)").fill("12,000")
    preview = citizen.locator("#preview")
    expect(preview).to_contain_text("여기서 쓸 수 있어요")
    expect(preview).to_contain_text("38,000원")  # what remains after
    citizen.get_by_role("button", name=re.compile("12,000원 결제")).click()
    citizen.wait_for_url(re.compile(r"/wallet/receipts/[0-9a-f]{32}$"))
    expect(citizen.locator("#verify-status")).to_have_attribute("data-verified", "ok")
    expect(citizen.locator("#verify-status")).to_contain_text("검증됨")
    payment = citizen.url.rsplit("/", 1)[-1]

    # The counter screen shows it at once, large, without a reload.
    expect(counter.locator("#flash .flash-amount")).to_have_text("12,000원")
    expect(counter.locator("#rows > li").first).to_contain_text("12,000원")
    assert counter.evaluate("() => window.neverReloaded") is True

    # The owner refunds it from the counter; the money is back in the citizen's wallet.
    counter.locator(f"a[href$='/payments/{payment}/refund']").click()
    counter.get_by_role("button", name=re.compile("다음")).click()
    counter.get_by_role("button", name=re.compile("12,000원 환불")).click()
    expect(counter.locator("#refund-done")).to_contain_text("12,000원")
    citizen.goto(f"/c/{CITY}/wallet/")
    expect(citizen.locator("#total-balance")).to_have_text("50,000원")

    # The hypermarket: the preview says why in plain words, and nothing changes.
    citizen.goto(f"/c/{CITY}/wallet/pay/{MART}")
    citizen.wait_for_load_state()
    citizen.get_by_label("금액 (원)").fill("10,000")
    expect(citizen.locator("#preview")).to_contain_text("이런 종류의 가게")
    assert wallet_view(site.container.store, CITY, wallet).balance == 50_000
