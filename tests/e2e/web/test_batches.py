"""The disbursement journey in a real browser: the maker uploads a file of policy money
and reads the row-level report in plain words, submits it; the maker cannot approve it;
a second official approves; the progress runs to done; the citizen's wallet shows the
credit with its last day of use. Pages pass axe and fit a phone."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.domain import commands as c
from localpay.services.cities.ledgers import new_id
from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
    sign_in,
)
from localpay.testing.journeys import as_officials

pytestmark = pytest.mark.slow
CITY = "gimpo"


def the_file() -> bytes:
    stamp = int(time.time())
    lines = [
        "citizen,amount,program,reference",
        f"w-0000002,30000,rewards,vol-{stamp}-a",
        f"w-0000003,20000,rewards,vol-{stamp}-b",
        f"w-0000003,20000,rewards,vol-{stamp}-b",  # the same line again
        f"w-9999999,10000,rewards,vol-{stamp}-c",  # nobody's wallet
        f"w-0000004,12.5,rewards,vol-{stamp}-d",  # not whole won
    ]
    return ("\n".join(lines) + "\n").encode()


def test_upload_report_approve_progress_and_the_wallet(browser: Browser, site: Site) -> None:
    as_officials(
        site, CITY, c.Mint(id=new_id(), city=CITY, program="rewards", amount=1_000_000, won_ref="v")
    )
    maker = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)
    page = maker.new_page()
    sign_in(page, CITY, "maker")
    page.goto(f"/c/{CITY}/console/batches")
    expect(page.get_by_role("heading", name="지급 일괄처리", exact=False)).to_be_visible()
    page.locator("#batch-file").set_input_files(
        {"name": "volunteers.csv", "mimeType": "text/csv", "buffer": the_file()}
    )
    page.get_by_role("button", name=re.compile("파일 확인|Check the file")).click()
    page.wait_for_url(re.compile(r"/console/batches/b-[0-9a-f]{16}$"))
    batch_url = page.url
    expect(page.locator("#valid-rows")).to_have_text("2")
    expect(page.locator("#batch-total")).to_contain_text("50,000")
    bad = page.locator("#bad-lines tbody tr")
    expect(bad).to_have_count(3)
    expect(page.locator('tr[data-verdict="duplicate"] td.bad')).to_contain_text("앞에")
    expect(page.locator('tr[data-verdict="unknown_citizen"] td.bad')).to_contain_text("지갑")
    expect(page.locator('tr[data-verdict="malformed"]')).to_have_attribute("data-line", "5")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    page.locator("#submit-batch").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "submitted")
    expect(page.locator("#approve-batch")).to_have_count(0)  # never the maker's to approve
    maker.close()

    checker = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)
    page = checker.new_page()
    sign_in(page, CITY, "checker")
    page.goto(batch_url)
    page.locator("#approve-batch").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator("#rows-paid")).to_have_text("2")
    expect(page.locator("#rows-to-go")).to_have_text("0")
    assert serious_violations(page) == []
    checker.close()

    citizen = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)
    citizen.add_cookies([citizen_cookie(site, CITY, "w-0000002")])
    page = citizen.new_page()
    page.goto(f"/c/{CITY}/wallet/")
    page.get_by_role("link", name="정책 지원금").click()
    credit = page.locator('#credits li[data-program="rewards"]')
    expect(credit).to_contain_text("30,000")
    expect(credit.locator(".expires")).to_contain_text(re.compile(r"\d{4}년 \d{1,2}월 \d{1,2}일"))
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    citizen.close()


def test_another_citys_batch_is_a_404(page: Page, site: Site) -> None:
    sign_in(page, "yangju", "maker")
    answer = page.goto(f"/c/{CITY}/console/batches")
    assert answer is not None and answer.status == 404


@pytest.mark.parametrize(
    ("lang", "senior"),
    [("ko", True), ("en", False), ("en", True)],
    ids=["ko-senior", "en", "en-senior"],
)
def test_policy_money_list_in_every_mode(
    browser: Browser, site: Site, lang: str, senior: bool
) -> None:
    wallet = "w-0000008"
    as_officials(
        site,
        CITY,
        c.Mint(id=new_id(), city=CITY, program="rewards", amount=7_000, won_ref="m"),
        c.Credit(
            id=new_id(), city=CITY, program="rewards", wallet=wallet, amount=7_000, origin="vol"
        ),
    )
    context = browser.new_context(
        base_url=site.base, locale="ko-KR", viewport={"width": 360, "height": 740}
    )
    context.add_cookies(
        [
            {"name": "localpay_lang", "value": lang, "url": site.base},
            {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
            citizen_cookie(site, CITY, wallet),
        ]
    )
    page = context.new_page()
    page.goto(f"/c/{CITY}/wallet/credits")
    credit = page.locator('#credits li[data-program="rewards"]').first
    expect(credit).to_contain_text("7,000")
    words = "Usable until" if lang == "en" else "까지"
    expect(credit.locator(".expires")).to_contain_text(words)
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    context.close()


def test_the_report_in_english_senior_mode_fits_a_phone(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        base_url=site.base, locale="en-US", viewport={"width": 360, "height": 740}
    )
    context.add_cookies(
        [
            {"name": "localpay_lang", "value": "en", "url": site.base},
            {"name": "localpay_senior", "value": "1", "url": site.base},
        ]
    )
    page = context.new_page()
    sign_in(page, CITY, "maker")
    page.goto(f"/c/{CITY}/console/batches")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    page.locator("#batch-file").set_input_files(
        {
            "name": "a-rather-long-file-name-for-a-phone.csv",
            "mimeType": "text/csv",
            "buffer": the_file(),
        }
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator('tr[data-verdict="duplicate"] td.bad')).to_contain_text("earlier")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) == 0
    context.close()
