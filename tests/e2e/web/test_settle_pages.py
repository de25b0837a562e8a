"""Settlement's pages in a real browser, against a site whose payouts go to a real
mock-bank process: the owner pays out from the counter and sees it sending; the console
imports the bank's camt.053 statement and an official resolves the exception it raised
with a note; the explorer shows the reserve ratio. Every page axe-clean and without
horizontal scrolling at 360 px, once in senior mode."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from localpay.adapters.bank.mockbank import MockBankClient, trust_account_id
from localpay.testing.browser import Site, horizontal_overflow, serious_violations, sign_in
from localpay.testing.servers import pay_over_http

pytestmark = pytest.mark.slow

CITY = "gimpo"
NARROW: ViewportSize = {"width": 360, "height": 800}


def _clean(page: Page) -> None:
    assert serious_violations(page) == [], page.url
    assert horizontal_overflow(page) == 0, page.url


def _bank(site: Site) -> MockBankClient:
    url = site.container.payout_bank_url
    assert url, "the site has no mock-bank (live_container(bank=True))"
    return MockBankClient(url)


def test_the_owner_pays_out_and_sees_it_on_its_way(page: Page, site: Site) -> None:
    pay_over_http(site.base, site.keys, 9_000)
    page.set_viewport_size(NARROW)
    sign_in(page, CITY, "owner")
    page.get_by_role("link", name="정산 출금").click()
    expect(page.locator("h1")).to_have_text("은행 계좌로 정산")
    expect(page.locator("#account")).to_contain_text("****")  # masked, registered by the seed
    page.locator("#payout-amount").fill("4,000")
    page.get_by_role("button", name="지금 출금").click()
    expect(page.locator("#payout-done")).to_contain_text("4,000원")
    first = page.locator("#bank-payouts > li").first
    expect(first).to_contain_text("4,000원")
    expect(first).to_contain_text("보내는 중")
    _clean(page)
    # Senior mode: the same page in large type, still clean at 360 px.
    page.context.add_cookies([{"name": "localpay_senior", "value": "1", "url": site.base}])
    page.reload()
    assert page.locator("html").get_attribute("class") == "senior"
    _clean(page)


def test_the_console_reconciles_a_statement_and_an_official_resolves_its_exception(
    page: Page, site: Site, tmp_path: Path
) -> None:
    bank = _bank(site)
    try:
        trust = trust_account_id(CITY)
        bank.credit(trust, 777, "UNKNOWN-REF-PAGES", "누군가")  # won the ledger never heard of
        bank.advance(1)  # the day ends: its statement is released
        mine = [m for m in bank.mailbox(collect=False) if m.account == trust]
        statement = next(m for m in reversed(mine) if "camt.053" in m.type)
    finally:
        bank.close()
    upload = tmp_path / "statement.xml"
    upload.write_bytes(statement.body)
    page.set_viewport_size(NARROW)
    sign_in(page, CITY, "maker")
    page.goto(f"/c/{CITY}/console/reconciliation")
    _clean(page)
    page.locator("#statement-file").set_input_files(upload)
    page.get_by_role("button", name="가져와서 대사하기").click()
    expect(page.locator("#recon-imported")).to_contain_text("확인할 것 1건")
    item = page.locator("#exceptions > li").filter(has_text="777원")
    expect(item).to_contain_text("원장에 없는 돈")
    _clean(page)
    item.get_by_label("처리 내용").fill("시청 회계과 확인: 잘못 들어온 돈, 돌려줌")
    item.get_by_role("button", name="해결됨으로 표시").click()
    expect(page.locator("#exceptions > li").filter(has_text="777원")).to_have_count(0)
    expect(page.locator("#resolved")).to_contain_text("잘못 들어온 돈, 돌려줌")
    # The payout files: an instant payout's one line, downloadable by an official.
    pay_over_http(site.base, site.keys, 2_000)
    made = site.container.settlement.instant(
        CITY, "m-00000", 1_234, uuid.uuid4().hex, site.container.clock()
    )
    page.goto(f"/c/{CITY}/console/payouts")
    expect(page.locator("main")).to_contain_text("1,234원")
    expect(page.locator(f"a[href$='payouts/{made.id}/file']")).to_have_count(1)
    _clean(page)


def test_the_explorer_shows_the_reserve_ratio(page: Page, site: Site) -> None:
    settlement = site.container.settlement
    proof = settlement.prove(CITY, site.container.clock())
    page.set_viewport_size(NARROW)
    page.goto(f"/c/{CITY}/explorer/reserves")
    expect(page.locator("#reserve-ratio")).to_have_text(f"{proof.ratio:.4f}")
    row = page.locator(f"#reserves-table tr[data-size='{proof.size}']")
    expect(row).to_contain_text(f"{proof.supply:,}원")
    _clean(page)
    sign_in(page, CITY, "auditor")
    page.goto(f"/c/{CITY}/console/reserves")
    expect(page.locator("#reserve-ratio")).to_have_text(re.compile(r"^\d\.\d{4}$"))
    _clean(page)
