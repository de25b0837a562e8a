"""The pay, preview, refusal, receipt, history and gift screens, in both modes and both
languages: no serious or critical axe-core violation (WCAG 2.2 AA, target-size on), and
no horizontal scroll at 360 px nor at 360 px with 200 % zoom (180 CSS px)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from localpay.testing.browser import (
    Site,
    citizen_cookie,
    horizontal_overflow,
    serious_violations,
)
from localpay.testing.servers import signed_payment

pytestmark = pytest.mark.slow

MODES = [
    pytest.param("ko", False, id="ko"),
    pytest.param("en", False, id="en"),
    pytest.param("ko", True, id="ko-senior"),
    pytest.param("en", True, id="en-senior"),
]
SCREENS = [
    "/c/gimpo/wallet/pay",
    "/c/gimpo/wallet/pay?q=m-00001",
    "/c/gimpo/wallet/pay/m-00000?amount=12000",
    "/c/gimpo/wallet/pay/m-00000?amount=99999999",  # a refusal: not enough money
    "/c/gimpo/wallet/history",
    "/c/gimpo/wallet/gift",
    "receipt",
]


@pytest.fixture(scope="module")
def receipt(site: Site) -> str:
    answer = site.container.ledgers.execute("gimpo", signed_payment(site.keys, 4_300))
    assert answer.ok
    return f"/c/gimpo/wallet/receipts/{answer.id}"


def _open(
    browser: Browser, site: Site, path: str, lang: str, senior: bool, width: int
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        base_url=site.base, locale="ko-KR", viewport={"width": width, "height": 800}
    )
    context.add_cookies(
        [  # type: ignore[list-item]
            {"name": "localpay_lang", "value": lang, "url": site.base},
            {"name": "localpay_senior", "value": "1" if senior else "0", "url": site.base},
            citizen_cookie(site, "gimpo", "w-0000001"),
        ]
    )
    page = context.new_page()
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, path
    page.wait_for_load_state("networkidle")
    if "/receipts/" in path:  # the proof is checked in the page: wait for its verdict
        page.wait_for_selector("#verify-status[data-verified]")
    return context, page


def _path(screen: str, receipt: str) -> str:
    return receipt if screen == "receipt" else screen


@pytest.fixture
def screens(receipt: str) -> Iterator[Any]:
    yield lambda screen: _path(screen, receipt)


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize(("lang", "senior"), MODES)
def test_no_serious_violations(
    browser: Browser, site: Site, screens: Any, screen: str, lang: str, senior: bool
) -> None:
    context, page = _open(browser, site, screens(screen), lang, senior, 390)
    try:
        assert page.locator("html").get_attribute("lang") == lang
        assert serious_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("senior", [False, True], ids=["normal", "senior"])
@pytest.mark.parametrize("width", [360, 180], ids=["360px", "360px-at-200%"])
def test_no_horizontal_scroll(
    browser: Browser, site: Site, screens: Any, screen: str, senior: bool, width: int
) -> None:
    context, page = _open(browser, site, screens(screen), "ko", senior, width)
    try:
        assert horizontal_overflow(page) == 0
    finally:
        context.close()
