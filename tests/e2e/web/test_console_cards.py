"""The console's card counter in a real browser: a maker issues a card-only wallet's card
(the number shown once, then only masked), tops it up with cash, reads the balance,
reports the card lost; registers a terminal. Korean first, axe-clean, 360 px wide, senior
mode with fewer functions; another city's official gets a 404."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from localpay.services.payments.card import numbers
from localpay.testing.browser import Site, horizontal_overflow, serious_violations, staff_cookie

pytestmark = pytest.mark.slow

CARDS = "/c/gimpo/console/cards"
NARROW: ViewportSize = {"width": 360, "height": 740}


def _clean(page: Page) -> None:
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0


def _as(page: Page, site: Site, city: str, username: str) -> None:
    page.context.add_cookies([staff_cookie(site, city, username)])  # type: ignore[list-item]
    page.set_viewport_size(NARROW)


def test_issue_top_up_balance_and_lost(page: Page, site: Site) -> None:
    _as(page, site, "gimpo", "maker")
    page.goto(CARDS)
    expect(page.get_by_role("heading", name="카드", exact=True)).to_be_visible()
    _clean(page)
    page.get_by_label(re.compile("비밀번호, 숫자 4~6자리")).fill("2468")
    with page.expect_response(lambda r: r.url.endswith("/cards/issue")) as issued:
        page.get_by_role("button", name="카드 발급하기").click()
    assert issued.value.headers.get("cache-control") == "no-store"
    number = page.locator("#card-number").inner_text().replace(" ", "")
    assert len(number) == 16 and numbers.luhn_valid(number)
    _clean(page)
    page.get_by_role("link", name=re.compile("이 지갑으로 가기")).click()
    expect(page.locator("#balance-total")).to_have_text("0원")
    assert number not in page.content()  # masked from now on
    expect(page.locator(f"#card-{number[-4:]}")).to_contain_text(f"**** {number[-4:]}")
    _clean(page)
    page.get_by_label("받은 현금 (원)").fill("30,000")
    page.get_by_role("button", name="충전하기").click()
    expect(page.locator("#said")).to_contain_text("충전했습니다")
    expect(page.locator("#balance-total")).to_have_text("33,000원")  # 10 % off the sale
    expect(page.locator("#balance-programs")).to_contain_text(
        "김포페이 일반"
    )  # the name people know, not the id
    page.get_by_role("button", name="분실 신고").click()
    expect(page.locator("#said")).to_contain_text("분실 신고")
    expect(page.locator(f"#card-{number[-4:]}")).to_have_attribute("data-status", "lost")
    _clean(page)


def test_senior_mode_keeps_the_counter_plain(page: Page, site: Site) -> None:
    _as(page, site, "gimpo", "maker")
    page.goto(CARDS)
    page.locator("form[action='/settings'] button[name=senior]").first.click()
    page.get_by_role("button", name="카드 발급하기").click()
    page.get_by_role("link", name=re.compile("이 지갑으로 가기")).click()
    top_up = page.get_by_role("button", name="충전하기")
    box = top_up.bounding_box()
    assert box is not None and box["height"] >= 44
    expect(page.locator("form[action$='/cards/pin']")).to_be_hidden()  # fewer functions
    _clean(page)


def test_terminals_are_listed_and_added(page: Page, site: Site) -> None:
    _as(page, site, "gimpo", "maker")
    page.goto("/c/gimpo/console/terminals")
    page.get_by_label(re.compile("단말기 번호")).fill("WEB00001")
    page.get_by_label(re.compile("가게 번호")).fill("m-00001")
    page.get_by_role("button", name="등록하기").click()
    expect(page.locator("#said")).to_contain_text("등록했습니다")
    expect(page.locator("#terminal-WEB00001")).to_contain_text("m-00001")
    _clean(page)


def test_another_city_official_gets_404(site: Site) -> None:
    cookie = staff_cookie(site, "yangju", "maker")
    with httpx.Client(base_url=site.base, cookies={cookie["name"]: cookie["value"]}) as client:
        for path in (CARDS, "/c/gimpo/console/terminals", f"{CARDS}/wallet/w-0000001"):
            assert client.get(path).status_code == 404, path


def test_a_card_only_wallet_gets_its_refund_account_at_the_counter(page: Page, site: Site) -> None:
    _as(page, site, "gimpo", "maker")
    page.goto(CARDS)
    page.get_by_role("button", name="카드 발급하기").click()
    page.get_by_role("link", name=re.compile("이 지갑으로 가기")).click()
    section = page.locator("#refund-account")
    expect(section).to_contain_text("아직 없습니다")
    page.locator("#ra-bank").select_option("088")
    page.get_by_label("계좌번호").fill("110-123-456789")
    page.get_by_label(re.compile("예금주")).fill("김순자")
    page.get_by_role("button", name="이 환불 계좌로 하기").click()
    expect(page.locator("#said")).to_contain_text("환불 계좌를 저장했습니다")
    expect(page.locator("#refund-account-shown")).to_contain_text("6789")
    assert "110-123-456789" not in page.content()  # masked once kept
    _clean(page)
    page.get_by_label("계좌번호").fill("12")  # too short: refused in plain words
    page.locator("#ra-bank").select_option("088")
    page.get_by_label(re.compile("예금주")).fill("김순자")
    page.get_by_role("button", name="이 환불 계좌로 하기").click()
    expect(page.locator("#said")).to_contain_text("계좌번호")
