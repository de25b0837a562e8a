"""A shop applies in the browser: a wrong BRN is caught as it is typed, the fixed one and
the industry's category are confirmed live; after sending, the status page waits; two
officials approve in the console; the status page then says approved with the
eligibility per program; the owner signs in at the counter and finds it too. Axe-clean,
360 px wide without sideways scrolling, and in senior mode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from localpay.testing.browser import (
    PHONE,
    Site,
    horizontal_overflow,
    serious_violations,
    sign_in,
)

pytestmark = pytest.mark.slow
CITY = "gimpo"
NARROW = ViewportSize(width=360, height=740)
OWNER_PASSWORD = "bakery-password-2026"


@pytest.fixture
def other(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A second person's browser (the officials), beside the applicant's `page`."""
    phone = ViewportSize(width=PHONE["width"], height=PHONE["height"])
    context = browser.new_context(viewport=phone, locale="ko-KR", base_url=site.base)
    context.set_default_timeout(15_000)
    yield context
    context.close()


def _fill_application(page: Page) -> None:
    page.get_by_label("가게 이름", exact=True).fill("구래동 행복 베이커리")
    page.get_by_label("가게 이름(영문)").fill("Gurae-dong Haengbok Bakery")
    page.get_by_label("읍·면·동").select_option(label="구래동")
    page.get_by_label("연 매출(원)").fill("250000000")
    expect(page.locator("#msg-annual_revenue .good")).to_have_text("3억 원 이하")
    page.get_by_label("은행").select_option("004")
    page.get_by_label("계좌번호").fill("123456-78-901234")
    page.get_by_label("예금주").fill("김하나")
    page.get_by_label("아이디", exact=True).fill("haengbok-bakery")
    page.get_by_label("비밀번호(12자 이상)").fill(OWNER_PASSWORD)


def test_apply_approve_and_see_the_eligibility(page: Page, other: BrowserContext) -> None:
    page.set_viewport_size(NARROW)
    page.goto(f"/c/{CITY}/merchants/apply")
    expect(page.get_by_role("heading", name="가맹점 신청")).to_be_visible()
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0

    brn = page.get_by_label("사업자등록번호")
    brn.fill("124-81-00997")  # the check digit should be 8
    expect(page.locator("#msg-brn .bad")).to_contain_text("마지막 자리")
    assert serious_violations(page) == []  # the live message too
    brn.fill("124-81-00998")
    expect(page.locator("#msg-brn .good")).to_contain_text("올바른 형식")
    page.get_by_label("업종 코드").fill("56191")
    expect(page.locator("#msg-industry .good")).to_contain_text("제과점업")
    expect(page.locator("#msg-industry .good")).to_contain_text("빵집")
    _fill_application(page)
    page.get_by_role("button", name="신청서 보내기").click()

    status = page.locator("#application-status")
    expect(status).to_have_attribute("data-status", "pending")
    expect(page.locator("#masked-account")).to_have_text("국민 ******-**-**1234")
    assert "901234" not in page.content()
    assert serious_violations(page) == []
    status_url = page.url

    officials = other.new_page()
    sign_in(officials, CITY, "maker")
    officials.goto(f"/c/{CITY}/console/merchants")
    card = officials.locator("li[id^=application-]", has_text="구래동 행복 베이커리")
    expect(card).to_contain_text("124-81-00998")
    expect(card).to_contain_text("국민 ******-**-**1234")
    assert serious_violations(officials) == []
    card.get_by_role("button", name="승인 제안").click()
    expect(officials.locator("#said")).to_contain_text("제안했습니다")
    officials.context.clear_cookies()
    sign_in(officials, CITY, "checker")
    officials.goto(f"/c/{CITY}/console/merchants")
    card = officials.locator("li[id^=application-]", has_text="구래동 행복 베이커리")
    card.get_by_role("button", name="두 번째 공무원으로 승인").click()
    expect(officials.locator("#said")).to_contain_text("원장에 보냈습니다")

    page.goto(status_url)
    expect(status).to_have_attribute("data-status", "approved")
    general = page.locator("#eligibility li[data-program=general]")
    expect(general).to_have_attribute("data-eligible", "yes")
    postpartum = page.locator("#eligibility li[data-program=postpartum]")
    expect(postpartum).to_have_attribute("data-eligible", "no")
    expect(postpartum).to_contain_text("이 업종에서는 쓸 수 없음")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0

    page.get_by_role("button", name="큰 글씨로 보기").click()
    expect(page.locator("html")).to_have_class("senior")
    expect(status).to_have_attribute("data-status", "approved")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []

    sign_in(page, CITY, "haengbok-bakery", OWNER_PASSWORD)
    assert re.search(r"/counter/m-[0-9a-f]+/$", page.url), page.url  # the new shop's counter
    page.get_by_role("link", name="우리 가게에서 쓸 수 있는 사업").click()
    expect(page.locator("#eligibility li[data-program=general]")).to_have_attribute(
        "data-eligible", "yes"
    )


def test_the_form_in_senior_mode_and_its_refusals(page: Page) -> None:
    page.set_viewport_size(NARROW)
    page.goto(f"/c/{CITY}/merchants/apply")
    page.get_by_role("button", name="큰 글씨로 보기").click()
    expect(page.locator("html")).to_have_class("senior")
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    page.get_by_label("사업자등록번호").fill("124-81-0099")
    expect(page.locator("#msg-brn .bad")).to_contain_text("9자리")
    page.get_by_label("연 매출(원)").fill("3000000001")
    expect(page.locator("#msg-annual_revenue .good")).to_contain_text("30억 원을 넘으면")
    page.get_by_label("사업자등록번호").fill("120-81-47521")
    page.get_by_label("업종 코드").fill("99999")
    expect(page.locator("#msg-industry .bad")).to_be_visible()
    _fill_application(page)
    page.get_by_role("button", name="신청서 보내기").click()  # sent with the bad code
    expect(page.locator("#msg-industry .bad")).to_contain_text("목록에 없는 코드")
    expect(page.get_by_label("업종 코드")).to_have_attribute("aria-invalid", "true")
    assert page.get_by_label("가게 이름", exact=True).input_value() == "구래동 행복 베이커리"
    assert serious_violations(page) == []


def test_officials_only_and_no_other_tenant(page: Page) -> None:
    page.goto(f"/c/{CITY}/console/merchants")
    assert "/login" in page.url  # nobody signed in: to the sign-in page
    sign_in(page, "yangju", "maker")
    answer = page.goto(f"/c/{CITY}/console/merchants")
    assert answer is not None and answer.status == 404
    answer = page.goto(f"/c/{CITY}/merchants/status/not-a-token")
    assert answer is not None and answer.status == 404


def test_suspension_for_fraud_shows_the_bar_and_refuses_reinstatement(
    page: Page, other: BrowserContext
) -> None:
    merchant = "m-00002"
    sign_in(page, CITY, "maker")
    page.goto(f"/c/{CITY}/console/merchants?q={merchant}")
    card = page.locator(f"#merchant-{merchant}")
    expect(card).to_have_attribute("data-status", "active")
    card.get_by_label("정지 이유").select_option("cash-out-fraud")
    card.get_by_role("button", name="정지 제안").click()
    expect(page.locator("#said")).to_contain_text("제안했습니다")

    checker = other.new_page()
    sign_in(checker, CITY, "checker")
    checker.goto(f"/c/{CITY}/console/merchants?q={merchant}")
    checker.locator(f"#merchant-{merchant}").get_by_role(
        "button", name="두 번째 공무원으로 승인"
    ).click()
    expect(checker.locator("#said")).to_contain_text("원장에 보냈습니다")

    page.goto(f"/c/{CITY}/console/merchants?q={merchant}")
    expect(card).to_have_attribute("data-status", "suspended")
    expect(page.locator(f"#barred-{merchant}")).to_contain_text("년")  # the bar's end date
    assert serious_violations(page) == []
    card.get_by_role("button", name="재승인 제안").click()
    said = page.locator("#said")
    expect(said).to_contain_text("제한이 끝나기 전에는")
    expect(said).to_contain_text("제한 종료:")
    assert horizontal_overflow(page) == 0


def test_the_form_in_english(page: Page) -> None:
    page.goto(f"/c/{CITY}/merchants/apply")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Apply as a merchant")).to_be_visible()
    page.get_by_label("Business registration number").fill("124-81-00997")
    expect(page.locator("#msg-brn .bad")).to_contain_text("The last digit does not match")
    page.get_by_label("Industry code").fill("47112")
    expect(page.locator("#msg-industry .good")).to_contain_text("Hypermarket")
    assert serious_violations(page) == []
