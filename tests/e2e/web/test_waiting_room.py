"""The waiting room in a real browser: take a place, reload and keep it, be admitted live
(SSE) and reach the buy page; a second phone stands behind the first; axe on each state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.testing.browser import (
    PHONE,
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
    sign_in,
)

pytestmark = pytest.mark.slow

CITY, PROGRAM = "gimpo", "general"
QUEUE = f"/c/{CITY}/wallet/buy/queue?program={PROGRAM}"


def ticket(page: Page) -> str | None:
    found = [c for c in page.context.cookies() if c["name"] == f"localpay_queue_{PROGRAM}"]
    return found[0]["value"] if found else None


def test_join_reload_admitted_buy(page: Page, browser: Browser, site: Site) -> None:
    room = site.container.waiting
    # scheduled for later; opened by the officials below, once the line has formed
    room.schedule(CITY, PROGRAM, site.container.clock() + 3_600_000, rate=1, window_minutes=10)
    page.context.add_cookies([citizen_cookie(site, CITY, "w-0000001")])  # type: ignore[list-item]
    page.goto(f"/c/{CITY}/wallet/buy?program={PROGRAM}")  # the buy page sends them to wait
    page.wait_for_url(re.compile(r"/wallet/buy/queue\?program="))
    assert serious_violations(page) == []
    page.get_by_role("button", name=re.compile("줄 서기")).click()
    expect(page.locator("#queue-position")).to_have_text("1")
    held = ticket(page)
    assert held is not None
    assert serious_violations(page) == [] and horizontal_overflow(page) == 0

    # a second phone arrives later: it stands behind, and the buy page sends it back
    other = browser.new_context(viewport=PHONE, locale="ko-KR", base_url=site.base)  # type: ignore[arg-type]
    other.add_cookies([citizen_cookie(site, CITY, "w-0000002")])  # type: ignore[list-item]
    second = other.new_page()
    second.goto(QUEUE)
    second.get_by_role("button", name=re.compile("줄 서기")).click()
    expect(second.locator("#queue-position")).to_have_text("2")
    expect(second.locator("#queue-ahead")).to_have_text("1")
    second.goto(f"/c/{CITY}/wallet/buy?program={PROGRAM}")
    second.wait_for_url(re.compile(r"/wallet/buy/queue\?program="))
    expect(second.locator("#queue-position")).to_have_text("2")
    other.close()

    page.reload()  # the place is kept: same ticket, same place
    assert ticket(page) == held
    expect(page.locator("#queue-position")).to_have_text("1")

    room.schedule(CITY, PROGRAM, site.container.clock(), rate=1, window_minutes=10)
    # admitted live, without a reload: the big button to the buy page
    buy = page.get_by_role("link", name=re.compile("구매하기"))
    expect(buy).to_be_visible(timeout=20_000)
    assert serious_violations(page) == [] and horizontal_overflow(page) == 0
    box = buy.bounding_box()
    assert box is not None and box["height"] >= 44
    buy.click()
    # the buy page asked the gate and let the admitted ticket through (not sent back),
    # and the wallet's session was never touched by the wait
    page.wait_for_url(re.compile(rf"/c/{CITY}/wallet/buy\?program={PROGRAM}$"))
    expect(page.locator("form input[name=amount]")).to_be_visible()


def test_no_opening_goes_straight_to_buy(page: Page, site: Site) -> None:
    page.context.add_cookies([citizen_cookie(site, "yangju", "w-0000001")])  # type: ignore[list-item]
    page.goto(f"/c/yangju/wallet/buy/queue?program={PROGRAM}")
    page.wait_for_url(re.compile(r"/c/yangju/wallet/buy\?program="))


def test_other_city_ticket_is_no_place(page: Page, site: Site) -> None:
    room = site.container.waiting
    room.schedule("yangju", "youth", site.container.clock() + 60_000)
    page.goto(QUEUE.replace(PROGRAM, "youth").replace(CITY, "yangju"))
    page.get_by_role("button", name=re.compile("줄 서기")).click()
    held = ticket_named(page, "youth")
    assert held is not None
    # the same ticket sent to another city's line is no place there
    site.container.waiting.schedule(CITY, "youth", site.container.clock() + 60_000)
    page.context.add_cookies(
        [{"name": "localpay_queue_youth", "value": held, "url": f"{site.base}/c/{CITY}/"}]
    )
    page.goto(QUEUE.replace(PROGRAM, "youth"))
    expect(page.get_by_role("button", name=re.compile("줄 서기"))).to_be_visible()


def ticket_named(page: Page, program: str) -> str | None:
    found = [c for c in page.context.cookies() if c["name"] == f"localpay_queue_{program}"]
    return found[0]["value"] if found else None


def test_console_shows_the_line_and_pauses_it(page: Page, site: Site) -> None:
    site.container.waiting.schedule(CITY, "youth", site.container.clock() + 60_000, rate=7)
    sign_in(page, CITY, "maker")
    page.goto(f"/c/{CITY}/console/waiting")
    card = page.locator("#opening-youth")
    expect(card).to_contain_text("7")
    assert serious_violations(page) == [] and horizontal_overflow(page) == 0
    card.get_by_role("button", name=re.compile("입장 멈추기")).click()
    expect(page.locator("#opening-youth h2")).to_contain_text("멈춤")
    view = site.container.waiting.view(CITY, "youth")
    assert view is not None and view.opening.paused
    page.locator("#opening-youth").get_by_role("button", name=re.compile("입장 다시 시작")).click()
    expect(page.locator("#opening-youth h2")).not_to_contain_text("멈춤")
    view = site.container.waiting.view(CITY, "youth")
    assert view is not None and not view.opening.paused


def test_console_is_for_the_city_officials(page: Page, site: Site) -> None:
    sign_in(page, "yangju", "maker")
    answer = page.goto(f"/c/{CITY}/console/waiting")
    assert answer is not None and answer.status == 404
