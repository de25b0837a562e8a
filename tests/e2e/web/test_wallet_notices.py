"""The wallet's notices in a real browser: the notices job (run as of a moved time, as
the scheduler runs it at midnight) writes a 30-day and a 7-day notice for money about to
expire, delivers them through the log channel, and the wallet shows them: a count of new
ones on the home's link, the list (new ones marked once), axe clean in both languages
and senior mode, no sideways scroll at 360 px. Another wallet sees none of them, over
the pages and over the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, Page, expect

from localpay.domain.calendar import DAY_MS
from localpay.ledger.state import Wallet
from localpay.testing.browser import Site, citizen_cookie, horizontal_overflow, serious_violations

pytestmark = pytest.mark.slow

CITY = "gimpo"
WALLET = "w-0000001"
APP = f"/c/{CITY}/wallet/"


@pytest.fixture(scope="module")
def told(site: Site) -> list[dict[str, Any]]:
    """Run the notices job 20 days, then 5 days, before the end of the wallet's last lot
    (the log channel delivers them: its line is checked in tests/integration/jobs); the
    notices written for WALLET."""
    raw = site.container.store.state_value(CITY, f"w:{WALLET}")
    assert raw is not None
    last = max(lot.expires_ms for lot in msgspec.json.decode(raw, type=Wallet).lots)
    for days in (20, 5):
        site.container.jobs.run("notices", CITY, last - days * DAY_MS)
    found = site.container.notices.of_wallet(CITY, WALLET, 50)
    return [{"days_before": n.days_before, "status": n.status} for n in found]


def _open(
    browser: Browser,
    site: Site,
    wallet: str,
    lang: str = "ko",
    senior: bool = False,
    width: int = 390,
) -> Page:
    context = browser.new_context(
        base_url=site.base, locale="ko-KR", viewport={"width": width, "height": 740}
    )
    context.set_default_timeout(15_000)
    cookies: list[Any] = [
        {"name": "localpay_lang", "value": lang, "url": site.base},
        {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
        citizen_cookie(site, CITY, wallet),
    ]
    context.add_cookies(cookies)
    return context.new_page()


@pytest.fixture
def pages(browser: Browser) -> Iterator[list[Page]]:
    made: list[Page] = []
    yield made
    for page in made:
        page.context.close()


def test_the_wallet_shows_its_notices_with_a_count_of_new_ones(
    browser: Browser, site: Site, told: list[dict[str, Any]], pages: list[Page]
) -> None:
    kinds = sorted({e["days_before"] for e in told})
    assert kinds == [7, 30], told
    assert {e["status"] for e in told} == {"delivered"}  # through the log channel
    page = _open(browser, site, WALLET)
    pages.append(page)
    page.goto(APP)
    link = page.locator("#notices-link")
    expect(link).to_contain_text(f"새 알림 {len(told)}건")
    assert serious_violations(page) == []  # the count's badge too (contrast, target)
    link.click()
    expect(page).to_have_url(f"{site.base}{APP}notices")
    lines = page.locator("li.notice-line")
    expect(lines).to_have_count(len(told))
    expect(lines.first).to_contain_text("7일 안에")  # the newest first
    expect(page.locator("li.notice-line[data-days='30']").first).to_contain_text("30일 안에")
    expect(page.locator("li.notice-line .badge")).to_have_count(len(told))
    page.reload()  # seen now: nothing is new any more
    expect(lines).to_have_count(len(told))
    expect(page.locator("li.notice-line .badge")).to_have_count(0)
    page.goto(APP)
    expect(page.locator("#notices-link")).to_have_text("알림")


@pytest.mark.parametrize(
    ("lang", "senior"), [("ko", False), ("en", False), ("ko", True)], ids=["ko", "en", "ko-senior"]
)
def test_the_notices_page_is_accessible_and_fits_a_phone(
    browser: Browser,
    site: Site,
    told: list[dict[str, Any]],
    pages: list[Page],
    lang: str,
    senior: bool,
) -> None:
    for width in (360, 390):
        page = _open(browser, site, WALLET, lang, senior, width)
        pages.append(page)
        page.goto(f"{APP}notices")
        expect(page.locator("li.notice-line").first).to_be_visible()
        assert serious_violations(page) == []
        assert horizontal_overflow(page) == 0
    if senior:
        expect(page.locator("h1")).to_have_text("알림 보기")
    page.keyboard.press("Tab")  # the page is used with the keyboard: focus reaches its links
    focused = page.evaluate("document.activeElement && document.activeElement.tagName")
    assert focused in ("A", "BUTTON")


def test_another_wallet_sees_none_of_them(
    browser: Browser, site: Site, told: list[dict[str, Any]], pages: list[Page]
) -> None:
    page = _open(browser, site, "w-0000002")
    pages.append(page)
    page.goto(f"{APP}notices")
    expect(page.locator("#no-notices")).to_be_visible()
    own = citizen_cookie(site, CITY, WALLET)["value"]
    other = citizen_cookie(site, CITY, "w-0000002")["value"]
    path = f"/v1/cities/{CITY}/wallets/{WALLET}/notices"
    with httpx.Client(base_url=site.base, timeout=30) as client:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {other}"}).status_code == 404
        staff = client.post(
            "/v1/auth/login",
            json={"city": CITY, "username": "auditor", "password": "gimpo-demo-2026"},
        ).json()["token"]
        assert client.get(path, headers={"Authorization": f"Bearer {staff}"}).status_code == 404
        mine = client.get(path, headers={"Authorization": f"Bearer {own}"})
        assert mine.status_code == 200
        body = mine.json()
        assert sorted(n["days_before"] for n in body["items"]) == sorted(
            e["days_before"] for e in told
        )
        assert body["unread"] == 0 and all(n["delivery"] == "delivered" for n in body["items"])
